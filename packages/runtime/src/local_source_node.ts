/**
 * '#local-source' in Node (package.json `imports`, condition `node`): a model directory on disk,
 * read through @tfjs-mbq/format/node (node:fs). Bundlers building for the browser take the
 * `default` entry instead, so no Node module reaches a browser bundle.
 */
export { fileSource as localSource } from '@tfjs-mbq/format/node';
