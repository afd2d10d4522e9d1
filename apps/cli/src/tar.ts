/**
 * A minimal tar writer (POSIX ustar, pax's interchange format; GNU and BSD tar read it): regular
 * files and empty directories with short relative names, enough to send a run directory over ssh in
 * one stream (`tar -x -f -`). Each entry is a 512-byte header, then the data padded to 512 bytes;
 * two zero blocks end the archive.
 */
const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(name: string, size: number, mode: number, type: "0" | "5"): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108); // uid: tar -x as a user keeps its own
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136);
  h.write("        ", 148); // checksum field counts as blanks while summing
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

/** Files (name → text; `*.sbatch` executable) and empty directories as one tar stream. */
export function tarFiles(files: Readonly<Record<string, string>>, dirs: readonly string[] = []): Buffer {
  const parts: Buffer[] = [];
  for (const d of dirs) parts.push(header(`${d}/`, 0, 0o755, "5"));
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, "utf8");
    parts.push(header(name, data.length, name.endsWith(".sbatch") ? 0o755 : 0o644, "0"), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
