// Parses each AsyncAPI document named on the command line with the official parser
// (@asyncapi/parser, pinned in package.json) and prints its diagnostics, one line each:
//   <file> <severity> <rule> <path>: <message>
// Exits 1 when any document has an error-level diagnostic (or cannot be read), else 0.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const SEVERITY = { [DiagnosticSeverity.Error]: "error", [DiagnosticSeverity.Warning]: "warning",
                   [DiagnosticSeverity.Information]: "info", [DiagnosticSeverity.Hint]: "hint" };
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs <asyncapi.json>...");
  process.exit(2);
}
const parser = new Parser();
let failed = false;
for (const file of files) {
  let source;
  try {
    source = await readFile(file, "utf8");
  } catch (error) {
    console.log(`${file} error read: ${error.message}`);
    failed = true;
    continue;
  }
  const { document, diagnostics } = await parser.parse(source, { source: file });
  for (const d of diagnostics) {
    console.log(`${file} ${SEVERITY[d.severity] ?? d.severity} ${d.code} ${(d.path ?? []).join("/")}: ${d.message}`);
  }
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error).length;
  if (errors > 0 || document === undefined) failed = true;
  console.log(`${file}: ${document === undefined ? "not parsed" : "parsed"}, ${errors} error(s), `
              + `${diagnostics.length - errors} other diagnostic(s)`);
}
process.exit(failed ? 1 : 0);
