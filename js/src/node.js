// bitstack/node - the parts that need Node: a block store in a directory.
export { FileStore } from './store_node.js';
export * from './index.js';
