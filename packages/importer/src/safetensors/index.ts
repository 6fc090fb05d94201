export { SafetensorsCheckpoint, SINGLE_FILE, INDEX_FILE } from './checkpoint.js';
export { SafetensorsFile, READ_CHUNK_BYTES } from './file.js';
export { parseHeader, headerLength, MAX_HEADER_BYTES, type SafetensorsHeader, type TensorEntry } from './header.js';
export { SAFETENSORS_DTYPES, dtypeSize, halfToFloat, type SafetensorsDtype } from './dtype.js';
