/**
 * Dynamic import of a module from the user's project (third-party backends). Under the code-cached
 * bundle (bin/code-cache.cjs), V8 drops the dynamic-import callback of code that comes from a cache,
 * so `import()` inside the bundle fails; the loader then provides a real module's import() here.
 */
type Importer = (url: string) => Promise<unknown>;

export function importModule(url: string): Promise<unknown> {
  const hook = (globalThis as { __dynImport?: Importer }).__dynImport;
  return hook ? hook(url) : import(url);
}
