/**
 * A small RFC 4180 CSV reader: comma-separated fields, optional double quotes around a field, `""`
 * for a quote inside one, CRLF or LF line ends, and fields that span lines when quoted.
 * https://www.rfc-editor.org/rfc/rfc4180
 */
export type CsvResult = { ok: true; rows: string[][] } | { ok: false; error: string; line: number };

export function parseCsv(text: string): CsvResult {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let fieldStarted = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
          const next = text[i + 1];
          if (next !== undefined && next !== "," && next !== "\n" && next !== "\r")
            return { ok: false, error: "unexpected character after a closing quote", line };
        }
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      fieldStarted = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      fieldStarted = false;
      line++;
    } else {
      if (c === '"') return { ok: false, error: "a quote inside an unquoted field", line };
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) return { ok: false, error: "a quoted field is not closed", line };
  if (fieldStarted || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  // Blank lines carry no row.
  return { ok: true, rows: rows.filter((r) => !(r.length === 1 && r[0] === "")) };
}
