import type { SourceRange } from './diagnostics.js';

/**
 * The AST of a pipeline file, shared by the .ft parser and the YAML reader so that both
 * forms go through one validator. Ranges point into the file the node came from.
 */
export type ValueNode =
  | { type: 'string'; value: string; range: SourceRange }
  | { type: 'number'; value: number; raw: string; range: SourceRange }
  | { type: 'boolean'; value: boolean; range: SourceRange }
  /** A bare identifier: an enum member or a stage reference; the schema of the key decides which. */
  | { type: 'ident'; name: string; range: SourceRange }
  | { type: 'list'; items: ValueNode[]; range: SourceRange }
  | { type: 'block'; entries: EntryNode[]; range: SourceRange };

export interface EntryNode {
  key: string;
  keyRange: SourceRange;
  /** Absent when the parser recovered from a syntax error in the value. */
  value?: ValueNode;
  range: SourceRange;
}

/** `KIND NAME { entries }`; the `pipeline NAME { ... }` header is a stage of kind `pipeline`. */
export interface StageNode {
  kind: string;
  kindRange: SourceRange;
  name: string;
  nameRange: SourceRange;
  entries: EntryNode[];
  range: SourceRange;
}

export interface Comment {
  text: string; // including the leading '#'
  range: SourceRange;
}

export interface FileNode {
  file: string;
  stages: StageNode[];
  comments: Comment[];
}
