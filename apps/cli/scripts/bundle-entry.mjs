// Entry of the single-file bundle: the same main() as bin/dyn.js. No top-level await: the bundle is
// CommonJS so that bin/dyn.js can run it through V8's code cache.
import { main } from "../dist/index.js";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
