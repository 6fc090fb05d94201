// @tfjs-mbq/importer: Hugging Face checkpoint -> tfjs-mbq model directory (Node).
export const IMPORTER_PACKAGE = '@tfjs-mbq/importer';
