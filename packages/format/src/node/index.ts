// @tfjs-mbq/format/node: the Node-only parts of the format (file-system sources).
export { fileSource, readRegularFile } from './file_source.js';
