import { CstParser, type IOrAlt, type IParserErrorMessageProvider, type IToken, type TokenType, EOF } from 'chevrotain';
import {
  allTokens,
  Comma,
  Equals,
  False,
  Identifier,
  LCurly,
  LSquare,
  NumberLiteral,
  RCurly,
  RSquare,
  StringLiteral,
  True,
} from './lexer.js';

/**
 * The .ft grammar: syntax only. Meaning (which kinds exist, which keys, references) lives in
 * the AST builder and the validators. Recovery is on, so one run reports every syntax error.
 */
export class FtParser extends CstParser {
  /**
   * `skipValidations` skips Chevrotain's grammar checks (ambiguities, left recursion) when the
   * process's one parser is built: the grammar tests build one with the checks on.
   */
  constructor(opts: { skipValidations?: boolean } = {}) {
    super(allTokens, { recoveryEnabled: true, errorMessageProvider: messages, maxLookahead: 3, skipValidations: opts.skipValidations ?? false });
    this.performSelfAnalysis();
  }

  /** file := block* */
  file = this.RULE('file', () => {
    this.MANY(() => this.SUBRULE(this.block));
  });

  /** block := IDENT IDENT '{' entry* '}' — a stage `KIND NAME { ... }` (or the `pipeline NAME` header). */
  block = this.RULE('block', () => {
    this.CONSUME(Identifier, { LABEL: 'kind' });
    this.CONSUME2(Identifier, { LABEL: 'name' });
    this.CONSUME(LCurly);
    this.MANY({ GATE: () => this.startsEntry(), DEF: () => this.SUBRULE(this.entry) });
    this.CONSUME(RCurly);
  });

  /**
   * entry := IDENT nestedBlock | IDENT '=' value — `key { ... }` is short for `key = { ... }`.
   * Both start with IDENT: one token of lookahead plus a gate on the second picks the form, so
   * `key value` (a forgotten '=') still enters the '=' form and recovery inserts the '='.
   */
  entry = this.RULE('entry', () => {
    this.OR({
      MAX_LOOKAHEAD: 1,
      IGNORE_AMBIGUITIES: true,
      DEF: (this.entryAlternatives ??= [
        {
          GATE: () => this.LA(2).tokenType === LCurly,
          ALT: () => {
            this.CONSUME(Identifier, { LABEL: 'key' });
            this.SUBRULE(this.nestedBlock);
          },
        },
        {
          ALT: () => {
            this.CONSUME2(Identifier, { LABEL: 'key' });
            this.CONSUME(Equals);
            this.SUBRULE(this.value);
          },
        },
      ]),
    });
  });
  private entryAlternatives?: IOrAlt<unknown>[];

  /** value := STRING | NUMBER | BOOL | IDENT | list | nestedBlock */
  value = this.RULE('value', () => {
    // The alternatives are built once, not per value: a literal array here allocated 15 objects per value.
    this.OR((this.valueAlternatives ??= [
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.nestedBlock) },
    ]));
  });
  private valueAlternatives?: IOrAlt<unknown>[];

  /** list := '[' (value (','? value)* ','?)? ']' — commas between items are optional. */
  list = this.RULE('list', () => {
    this.CONSUME(LSquare);
    this.MANY(() => {
      this.SUBRULE(this.value);
      this.OPTION(() => this.CONSUME(Comma));
    });
    this.CONSUME(RSquare);
  });

  /** nestedBlock := '{' entry* '}' — a map value such as `train = { vocab_size = 4096 }`. */
  nestedBlock = this.RULE('nestedBlock', () => {
    this.CONSUME(LCurly);
    this.MANY({ GATE: () => this.startsEntry(), DEF: () => this.SUBRULE(this.entry) });
    this.CONSUME(RCurly);
  });

  /**
   * `IDENT IDENT {` is the start of the next stage, never an entry: stopping the entry loop there
   * turns a forgotten '}' into one "expected '}'" error instead of a cascade.
   */
  private startsEntry(): boolean {
    return !(this.LA(2).tokenType === Identifier && this.LA(3).tokenType === LCurly);
  }
}


/** What a token looks like in a message: its text when it has one, else its kind. */
function show(t: IToken): string {
  if (t.tokenType === EOF) return 'end of file';
  if (t.tokenType === StringLiteral) return `string ${t.image.length > 30 ? t.image.slice(0, 27) + '..."' : t.image}`;
  return `'${t.image}'`;
}

function label(t: TokenType): string {
  return t.LABEL ?? t.name;
}

/** Chevrotain's messages list token paths; these say what a person would. */
const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    if (expected === Equals) return `expected '=' after key '${previous.image}', found ${show(actual)}`;
    if (expected === LCurly) return `expected '{' after stage name '${previous.image}', found ${show(actual)}`;
    if (expected === RCurly) {
      if (actual.tokenType !== Identifier && actual.tokenType !== EOF) return `expected a key or '}', found ${show(actual)}`;
      const what = ruleName === 'nestedBlock' ? 'the nested block' : 'the stage';
      return `expected '}' to close ${what}, found ${show(actual)}${actual.tokenType === Identifier ? " (each entry is 'key = value')" : ''}`;
    }
    if (expected === RSquare) return `expected ']' to close the list, found ${show(actual)}`;
    if (expected === Identifier && ruleName === 'block') {
      return previous.tokenType === Identifier
        ? `expected a stage name after '${previous.image}', found ${show(actual)}`
        : `expected a stage kind such as 'data' or 'trainer', found ${show(actual)}`;
    }
    return `expected ${label(expected)}, found ${show(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected a stage ('KIND NAME { ... }'), found ${show(firstRedundant)}`;
  },
  buildNoViableAltMessage({ actual, previous }) {
    const after = previous.tokenType === Equals ? ' after \'=\'' : '';
    return `expected a value${after} (a string, number, true/false, identifier, list or block), found ${show(actual[0])}`;
  },
  buildEarlyExitMessage({ actual, ruleName }) {
    return `unexpected ${show(actual[0])} in ${ruleName}`;
  },
};

/** The parser is built once per process: grammar analysis is the expensive part. */
export const parser = new FtParser({ skipValidations: true });
