// @tfjs-mbq/format/node: the Node-only parts of the format (file-system sources).
export { fileSource, readRegularFile, realPathInside, type FileSourceOptions } from './file_source.js';
export { readDataFile, MAX_DATA_FILE_BYTES } from './data_file.js';
