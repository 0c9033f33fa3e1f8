import { readChunks } from './lines.js';
import { FileFault, type RowItem, type RowSource } from './types.js';

const QUOTE = 0x22, COMMA = 0x2c, CR = 0x0d, LF = 0x0a;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted, // saw '"' inside a quoted field: either an escaped quote or the field's end
  AfterCr, // saw CR ending a record: swallow one LF
}

/**
 * CSV as RFC 4180 has it: a header row, comma-separated fields, fields in double quotes may
 * hold commas, line breaks and doubled quotes (""), records end with CRLF or LF. Streamed
 * chunk by chunk. Row numbers count data records (the header is not a row); `line` is the
 * physical line where the record starts. A quote inside an unquoted field is kept as text,
 * as most writers and Python's csv module do.
 */
export async function* readCsv(file: string): RowSource {
  let state = State.FieldStart as State;
  let field = '';
  let fields: string[] = [];
  let fault: string | undefined; // what is wrong with the current record
  let header: string[] | undefined;
  let row = 0;
  let line = 1;
  let recordLine = 1;

  // Returns the finished record as a row item, or undefined for the header and blank lines.
  const endRecord = (): RowItem | undefined => {
    const done = fields;
    const doneFault = fault;
    const at = recordLine;
    fields = [];
    fault = undefined;
    if (done.length === 1 && done[0] === '' && !doneFault) return undefined; // blank line
    if (!header) {
      if (doneFault) throw new FileFault(`bad header row: ${doneFault}`, { line: at });
      header = done;
      const dup = done.find((name, i) => done.indexOf(name) !== i);
      if (dup !== undefined) throw new FileFault(`the header names column "${dup}" twice`, { line: at });
      return undefined;
    }
    row++;
    if (doneFault) return { row, line: at, error: doneFault };
    if (done.length !== header.length) {
      return { row, line: at, error: `expected ${header.length} fields (as in the header), found ${done.length}` };
    }
    const record: Record<string, string> = {};
    for (let k = 0; k < header.length; k++) record[header[k]] = done[k];
    return { row, line: at, value: record };
  };

  // Ends the current field with `value` at the delimiter `c` (comma, LF or CR); returns the record a
  // line break completed, if it is a data row.
  const endField = (value: string, c: number): RowItem | undefined => {
    fields.push(value);
    field = '';
    if (c === COMMA) {
      state = State.FieldStart;
      return undefined;
    }
    const item = endRecord();
    recordLine = line;
    state = c === CR ? State.AfterCr : State.FieldStart;
    return item;
  };

  for await (const chunk of readChunks(file)) {
    let start = 0; // start of the pending field text in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === LF) line++;
      switch (state) {
        case State.AfterCr:
        case State.FieldStart:
          if (state === State.AfterCr) {
            state = State.FieldStart;
            if (c === LF) {
              recordLine = line; // CRLF: the LF belongs to the record just ended
              break;
            }
            // a lone CR ended the record; this character starts the next one
          }
          if (c === QUOTE) {
            state = State.Quoted;
            start = i + 1;
          } else if (c === COMMA || c === LF || c === CR) {
            const item = endField('', c);
            if (item) yield item;
          } else {
            state = State.Unquoted;
            start = i;
          }
          break;
        case State.Unquoted:
          if (c === COMMA || c === LF || c === CR) {
            const item = endField(field + chunk.slice(start, i), c);
            if (item) yield item;
          }
          break;
        case State.Quoted:
          if (c === QUOTE) {
            field += chunk.slice(start, i);
            state = State.QuoteInQuoted;
          }
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            field += '"'; // "" is an escaped quote
            start = i + 1;
            state = State.Quoted;
          } else if (c === COMMA || c === LF || c === CR) {
            const item = endField(field, c);
            if (item) yield item;
          } else {
            fault ??= `unexpected ${JSON.stringify(chunk[i])} after a closing quote (quotes inside a quoted field are written "")`;
            state = State.Unquoted; // read on to the end of the record
            start = i;
          }
          break;
      }
    }
    if (state === State.Unquoted || state === State.Quoted) {
      field += chunk.slice(start);
    }
  }
  // End of file: a final record without a line break.
  if (state === State.Quoted) {
    row++;
    yield { row, line: recordLine, error: `a quoted field opened on line ${recordLine} is never closed` };
    return;
  }
  if (state === State.Unquoted || state === State.QuoteInQuoted) {
    fields.push(field);
    const item = endRecord();
    if (item) yield item;
  } else if (state === State.FieldStart && fields.length > 0) {
    fields.push('');
    const item = endRecord();
    if (item) yield item;
  }
  if (!header) throw new FileFault('the CSV file is empty: it needs a header row naming the columns');
}
