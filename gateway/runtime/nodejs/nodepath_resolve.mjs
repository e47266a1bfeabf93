// ES module resolution through NODE_PATH, as Lambda's Node.js runtimes do it from nodejs18.x on:
// a bare specifier ('@aws-sdk/client-dynamodb') that Node's own resolution does not find from the
// importing file (the function's node_modules, up the tree) is looked up in NODE_PATH's
// node_modules folders, in order. Node itself reads NODE_PATH for require() only.
//
// bootstrap.mjs installs these hooks with module.registerHooks where Node has it (in-thread), else
// with module.register (Node 20: a loader thread, which gets the folders through initialize()).
// When nothing is found, the error is Node's own, as on a runtime without the package.

import path from 'node:path';
import { pathToFileURL } from 'node:url';

let searched = [];   // [{ parentURL, prefix }] per folder, see setFolders

// Folders given as real paths: Node resolves links, so what it finds is compared with those.
// Resolving from a file beside the folder makes Node look in the folder first; whatever it finds
// further up the tree is not the folder's, and is passed over.
export function setFolders(folders) {
  searched = folders.map((folder) => ({
    parentURL: pathToFileURL(path.join(path.dirname(folder), 'lambdagate-nodepath.mjs')).href,
    prefix: pathToFileURL(folder).href + '/',
  }));
}

export function initialize(data) {
  setFolders(data.folders);
}

// bare: not relative, not absolute, not a URL ('node:fs', 'file:///...', 'data:...')
const isBare = (specifier) => !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z\d+.-]*:)/.test(specifier);
const fallsBack = (specifier, error) => error?.code === 'ERR_MODULE_NOT_FOUND' && isBare(specifier);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!fallsBack(specifier, error)) throw error;
    for (const { parentURL, prefix } of searched) {
      try {
        const found = await nextResolve(specifier, { ...context, parentURL });
        if (found.url.startsWith(prefix)) return found;
      } catch (_) { /* not in this folder */ }
    }
    throw error;
  }
}

export function resolveSync(specifier, context, nextResolve) {
  try {
    return nextResolve(specifier, context);
  } catch (error) {
    if (!fallsBack(specifier, error)) throw error;
    for (const { parentURL, prefix } of searched) {
      try {
        const found = nextResolve(specifier, { ...context, parentURL });
        if (found.url.startsWith(prefix)) return found;
      } catch (_) { /* not in this folder */ }
    }
    throw error;
  }
}
