// Entry of the single-file bundle: the same main() as bin/dyn.js.
import { main } from "../dist/index.js";

process.exitCode = await main(process.argv.slice(2));
