// D (DTrace) and bpftrace for the editor: a stream tokenizer whose word lists come from the
// vocabulary that dtrace_lexer generates (static/js/vocabulary.js), passed in at run time so
// the bundle never carries a stale copy of them.

import { StreamLanguage, StringStream } from "@codemirror/language";
import { Tag, tags } from "@lezer/highlight";

// Highlight tags of the tracing constructs that have no standard tag.  Each one gets its own
// class (see highlight.js), so the page can colour it.
export const dtTags = {
  probe: Tag.define(tags.labelName),
  provider: Tag.define(tags.namespace),
  predicate: Tag.define(),
  builtin: Tag.define(tags.variableName),
  aggregating: Tag.define(tags.variableName),
  action: Tag.define(tags.variableName),
  aggregation: Tag.define(tags.variableName),
  threadLocal: Tag.define(tags.variableName),
  clauseLocal: Tag.define(tags.variableName),
  scratch: Tag.define(tags.variableName),
  macroArg: Tag.define(tags.variableName),
  pragma: Tag.define(tags.processingInstruction),
  option: Tag.define(tags.attributeName),
};

// The token names the tokenizer returns and the tags they stand for.  A token may carry
// several names separated by spaces ("predicate builtin").
const tokenTable = {
  comment: tags.comment,
  string: tags.string,
  escape: tags.escape,
  number: tags.number,
  keyword: tags.keyword,
  type: tags.typeName,
  operator: tags.operator,
  punctuation: tags.punctuation,
  brace: tags.brace,
  paren: tags.paren,
  bracket: tags.squareBracket,
  meta: tags.meta,
  variable: tags.variableName,
  member: tags.propertyName,
  ...dtTags,
  builtinVariable: dtTags.builtin,
};

// The names that classify a token; the editor's hover and completion read them back from
// the syntax tree.
export const TOKEN = Object.freeze({
  probe: "probe",
  provider: "provider",
  builtin: "builtinVariable", // not "builtin": StreamLanguage maps that legacy name itself
  aggregating: "aggregating",
  action: "action",
  option: "option",
});

// D's macro variables besides $1, $2, ...
const D_MACROS = new Set([
  "target", "pid", "ppid", "pgid", "sid", "uid", "gid", "euid", "egid", "taskid", "projid",
]);

// Words that start a declaration, not a probe, at the top level of a script.
const TOP_DECLARATIONS = {
  d: new Set([
    "inline", "self", "this", "typedef", "struct", "union", "enum", "translator", "provider",
    "extern", "static", "const", "volatile", "register", "import",
  ]),
  bpftrace: new Set(["struct", "union", "enum", "config", "macro", "import", "let"]),
};

// Sticky patterns, matched at the stream's position without slicing the line (see eat()).
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /(?:0[xX][0-9a-fA-F]+|0[bB][01]+|(?:\d[\d_]*)(?:\.\d+)?(?:[eE][+-]?\d+)?)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?|ns|us|ms|s|m|h|d)?/y;
const OPERATORS = /(?:->|<<=|>>=|\+\+|--|&&|\|\||\^\^|<<|>>|[<>=!+\-*/%&|^]=|[<>=!+\-*/%&|^~?:])/y;
const SELF_VAR = /self\s*->\s*[A-Za-z_]\w*/y;
const THIS_VAR = /this\s*->\s*[A-Za-z_]\w*/y;
const DOLLAR = /\$(?:\$?\d+|#|([A-Za-z_]\w*))/y;
const CALL_AHEAD = /\s*\(/y;
const PREDICATE_END = /\/\s*(?:$|\{|\/\/|\/\*)/y;

/** Consumes a match of the sticky `pattern` at the stream's position; returns it or null. */
function eat(stream, pattern) {
  pattern.lastIndex = stream.pos;
  const m = pattern.exec(stream.string);
  if (m) stream.pos += m[0].length;
  return m;
}

/** Whether the sticky `pattern` matches at `pos` of the line. */
function at(stream, pattern, pos) {
  pattern.lastIndex = pos;
  return pattern.test(stream.string);
}

// What precedes a member name: "->" or ".", perhaps with spaces.
function afterMemberOperator(stream) {
  let i = stream.start - 1;
  while (i >= 0 && (stream.string.charCodeAt(i) === 32 || stream.string.charCodeAt(i) === 9)) i -= 1;
  const c = stream.string.charAt(i);
  return c === "." || (c === ">" && stream.string.charAt(i - 1) === "-");
}

// Characters of a probe description: provider:module:function:name with globs, macro
// variables ($target) and dashes (tick-1s), or bpftrace's kind:target:... with numbers.
const PROBE_CHAR = /[A-Za-z0-9_\-.*?$\[\]!:+]/;

function wordSet(list) {
  return new Set(list || []);
}

function wordMap(obj) {
  return new Map(Object.entries(obj || {}));
}

/** The word lists of one language, as sets and maps the tokenizer can test quickly. */
export function languageWords(vocabulary, language) {
  const v = (vocabulary && vocabulary[language]) || {};
  const providers = new Set(Object.keys(v.providers || {}));
  for (const alias of Object.keys(v.providerAliases || {})) providers.add(alias);
  return {
    language,
    keywords: wordSet(v.keywords),
    types: wordSet(v.types),
    builtins: wordMap(v.builtins),
    functions: wordMap(v.functions),
    aggregations: wordMap(v.aggregations),
    providers,
    providerDocs: wordMap(v.providers),
    providerAliases: wordMap(v.providerAliases),
    options: wordMap(v.options),
    declarations: TOP_DECLARATIONS[language] || new Set(),
  };
}

// Where the tokenizer is, in the clause structure of a script:
//   top     - between clauses: a word starts a probe description or a declaration
//   probes  - after a probe description: more probes, a predicate or the clause body
//   pred    - inside a predicate / ... /
//   decl    - inside a top-level declaration (inline, struct, translator, config ...)
//   declTail - just after a declaration's block, where its name or ";" may follow
//   body    - inside braces
function startState() {
  return {
    phase: "top",
    depth: 0, // brace depth
    parens: 0, // parenthesis depth inside a predicate
    inComment: false,
    inString: false,
    probeTail: false, // the provider of a probe was emitted; its rest follows
    pathSegment: false, // inside a bpftrace probe's /path segment
    pragmaWords: 0, // words of "#pragma D option" still to come
    pragmaValue: false, // the option's "=value" may follow
    declBlock: false, // the open top-level block belongs to a declaration, not a clause
    lineStart: true,
  };
}

function copyState(s) {
  return { ...s };
}

function readString(stream, state) {
  // Escapes are their own tokens, so the text in between is a string token.
  if (stream.peek() === "\\") {
    stream.next();
    if (!stream.eol()) {
      if (/[0-7]/.test(stream.peek())) stream.match(/^[0-7]{1,3}/);
      else if (stream.peek() === "x") stream.match(/^x[0-9a-fA-F]{1,2}/);
      else stream.next();
    }
    return "escape";
  }
  while (!stream.eol()) {
    const ch = stream.peek();
    if (ch === "\\") break;
    stream.next();
    if (ch === '"') {
      state.inString = false;
      break;
    }
  }
  return "string";
}

function readBlockComment(stream, state) {
  if (stream.skipTo("*/")) {
    stream.pos += 2;
    state.inComment = false;
  } else {
    stream.skipToEnd();
  }
  return "comment";
}

// Reads the rest of a probe description from the current position.
function readProbe(stream, state, bpftrace) {
  let consumed = false;
  while (!stream.eol()) {
    const ch = stream.peek();
    if (ch === "/") {
      // bpftrace probes may name a file (uprobe:/bin/bash:readline); a "/" anywhere else
      // opens the predicate.
      const prev = stream.pos > 0 ? stream.string.charAt(stream.pos - 1) : "";
      if (!bpftrace || !(prev === ":" || state.pathSegment)) break;
      if (stream.string.charAt(stream.pos + 1) === "*" || stream.string.charAt(stream.pos + 1) === "/") {
        break;
      }
      state.pathSegment = true;
      stream.next();
      consumed = true;
      continue;
    }
    if (ch === '"' && stream.string.charAt(stream.pos - 1) === ":") {
      // bpftrace quotes a probe part that holds odd characters: uprobe:libc:"malloc"
      stream.match(/^"(?:\\.|[^"\\])*"?/);
      consumed = true;
      continue;
    }
    if (ch === ":") state.pathSegment = false;
    if (!PROBE_CHAR.test(ch)) break;
    stream.next();
    consumed = true;
  }
  if (!consumed) stream.next();
  state.pathSegment = false;
  return consumed;
}

function startProbe(stream, state, words) {
  const bpftrace = words.language === "bpftrace";
  readProbe(stream, state, bpftrace);
  state.phase = "probes";
  const text = stream.current();
  // The provider is the first segment, cut before a dash (tick-1s), a macro ($target) or a
  // process id (pid1234).
  const head = /^[A-Za-z_]+/.exec(text);
  if (head) {
    let provider = head[0];
    const segment = text.split(":")[0];
    if (words.providers.has(segment)) provider = segment;
    if (words.providers.has(provider) && provider.length < text.length) {
      stream.backUp(text.length - provider.length);
      state.probeTail = true;
      return TOKEN.provider;
    }
    if (words.providers.has(provider)) return TOKEN.provider;
  }
  return TOKEN.probe;
}

function word(stream, state, words, extra) {
  const text = stream.current();
  const next = at(stream, CALL_AHEAD, stream.pos);
  let style;
  if (words.aggregations.has(text) && next) style = TOKEN.aggregating;
  else if (words.functions.has(text) && next) style = TOKEN.action;
  else if (words.builtins.has(text)) style = TOKEN.builtin;
  else if (words.functions.has(text)) style = TOKEN.action;
  else if (words.aggregations.has(text)) style = TOKEN.aggregating;
  else if (words.keywords.has(text)) style = "keyword";
  else if (words.types.has(text)) style = "type";
  else style = "variable";
  return extra ? `${extra} ${style}` : style;
}

function expression(stream, state, words, extra) {
  const bpftrace = words.language === "bpftrace";
  const tag = (name) => (extra ? `${extra} ${name}` : name);
  const ch = stream.peek();
  if (ch === '"') {
    stream.next();
    state.inString = true;
    return tag(readString(stream, state));
  }
  if (ch === "'") {
    stream.match(/^'(?:\\.|[^'\\])*'?/);
    return tag("string");
  }
  if (ch === "s" && eat(stream, SELF_VAR)) return tag("threadLocal");
  if (ch === "t" && eat(stream, THIS_VAR)) return tag("clauseLocal");
  if (ch === "@") {
    stream.next();
    eat(stream, IDENT);
    return tag("aggregation");
  }
  if (ch === "$") {
    const m = eat(stream, DOLLAR);
    if (m && !m[1]) return tag("macroArg");
    if (m) return tag(!bpftrace && D_MACROS.has(m[1]) ? "macroArg" : "scratch");
    stream.next();
    return tag("operator");
  }
  if (/\d/.test(ch) || (ch === "." && /\d/.test(stream.string.charAt(stream.pos + 1)))) {
    if (eat(stream, NUMBER)) return tag("number");
  }
  if (eat(stream, IDENT)) {
    if (afterMemberOperator(stream)) return tag("member");
    return word(stream, state, words, extra);
  }
  if (ch === "(" || ch === ")") {
    stream.next();
    if (state.phase === "pred") state.parens += ch === "(" ? 1 : -1;
    return tag("paren");
  }
  if (ch === "[" || ch === "]") {
    stream.next();
    return tag("bracket");
  }
  if (eat(stream, OPERATORS)) return tag("operator");
  stream.next();
  return tag("punctuation");
}

function token(stream, state, words) {
  if (stream.sol()) {
    state.lineStart = true;
    state.pragmaWords = 0;
    state.pragmaValue = false;
  }
  if (state.inComment) return readBlockComment(stream, state);
  if (state.inString) return (state.phase === "pred" ? "predicate " : "") + readString(stream, state);
  // Spaces inside a predicate belong to it, so its background runs unbroken.
  if (stream.eatSpace()) return state.phase === "pred" ? "predicate" : null;

  const lineStart = state.lineStart;
  state.lineStart = false;

  if (stream.match("/*")) {
    state.inComment = true;
    return readBlockComment(stream, state);
  }
  if (stream.match("//")) {
    stream.skipToEnd();
    return "comment";
  }

  if (state.pragmaWords > 0) {
    state.pragmaWords -= 1;
    if (stream.match(/^[A-Za-z_][\w-]*/)) {
      if (state.pragmaWords === 0) state.pragmaValue = true;
      return TOKEN.option;
    }
  }
  if (state.pragmaValue) {
    // "=value" of "#pragma D option name=value": the rest of the line up to a comment.
    state.pragmaValue = false;
    if (stream.eat("=")) {
      state.pragmaValue = true;
      return "operator";
    }
    if (stream.match(/^[^\s/]+/)) return /^\d/.test(stream.current()) ? "number" : "string";
  }
  if (lineStart && stream.peek() === "#") {
    if (stream.match(/^#!.*/)) return "comment";
    if (stream.match(/^#\s*pragma\s+D\s+option\b/)) {
      state.pragmaWords = 1;
      return "pragma";
    }
    if (stream.match(/^#\s*pragma\b/)) {
      stream.skipToEnd();
      return "pragma";
    }
    stream.skipToEnd();
    return "meta";
  }

  if (state.probeTail) {
    state.probeTail = false;
    readProbe(stream, state, words.language === "bpftrace");
    return TOKEN.probe;
  }

  const ch = stream.peek();
  if (state.phase === "declTail") {
    // After the block of a declaration: its name and ";" on the same line (} request_t;),
    // else the next clause.
    if (lineStart) state.phase = "top";
    else if (ch === ";") {
      stream.next();
      state.phase = "top";
      return "punctuation";
    } else state.phase = "decl";
  }
  if (state.depth === 0 && (state.phase === "top" || state.phase === "probes")) {
    if (ch === "{") {
      stream.next();
      state.depth = 1;
      state.phase = state.phase === "top" ? "decl" : "body";
      state.declBlock = state.phase === "decl";
      return "brace";
    }
    if (ch === "/" && state.phase === "probes") {
      stream.next();
      state.phase = "pred";
      state.parens = 0;
      return "predicate operator";
    }
    if (ch === "," || ch === ";") {
      stream.next();
      return "punctuation";
    }
    if (state.phase === "top") {
      IDENT.lastIndex = stream.pos;
      const m = IDENT.exec(stream.string);
      if (m && (words.declarations.has(m[0]) || words.types.has(m[0]))) {
        state.phase = "decl";
        return expression(stream, state, words, null);
      }
    }
    if (PROBE_CHAR.test(ch) || (ch === "/" && words.language === "bpftrace")) {
      return startProbe(stream, state, words);
    }
    stream.next();
    return "punctuation";
  }

  if (state.phase === "pred") {
    // The "/" that closes a predicate ends its line or comes before the clause's "{"; any
    // other "/" in a predicate is a division.
    if (ch === "/" && state.parens <= 0 && at(stream, PREDICATE_END, stream.pos)) {
      stream.next();
      state.phase = "probes";
      return "predicate operator";
    }
    return expression(stream, state, words, "predicate");
  }

  // Clause bodies and declarations.
  if (ch === "{") {
    stream.next();
    if (state.depth === 0) state.declBlock = true;
    state.depth += 1;
    return "brace";
  }
  if (ch === "}") {
    stream.next();
    state.depth = Math.max(0, state.depth - 1);
    if (state.depth === 0) state.phase = state.declBlock ? "declTail" : "top";
    return "brace";
  }
  if (ch === ";" && state.depth === 0 && state.phase === "decl") {
    stream.next();
    state.phase = "top";
    return "punctuation";
  }
  return expression(stream, state, words, null);
}

function indent(state, textAfter, cx) {
  const depth = state.depth - (/^\s*}/.test(textAfter) ? 1 : 0);
  return Math.max(0, depth) * cx.unit;
}

/** A StreamLanguage for "d" or "bpftrace" over the given vocabulary. */
export function tracingLanguage(language, vocabulary) {
  const words = languageWords(vocabulary, language);
  return StreamLanguage.define({
    name: language,
    startState,
    copyState,
    token: (stream, state) => token(stream, state, words),
    indent,
    tokenTable,
    languageData: {
      commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
      closeBrackets: { brackets: ["(", "[", "{", '"'] },
    },
  });
}

/**
 * The clause context and token style at a position, found by running the tokenizer from
 * the top: what completion offers depends on it.  The state at the start of every line is
 * kept, so after an edit only the lines from the first changed one are tokenized again.
 */
export class ContextTracker {
  constructor(words) {
    this.words = words;
    this.text = "";
    this.lineStarts = [0]; // offset of each line tokenized so far
    this.states = [startState()]; // tokenizer state at the start of each of those lines
  }

  /** {phase, depth, style, from, to}: the token ending at or covering `pos`, if any. */
  at(text, pos) {
    this.reuse(text);
    // The last line whose start is at or before pos, tokenizing up to it when needed.
    const line = this.lineAtOrExtend(text, pos);
    const state = copyState(this.states[line]);
    const lineStart = this.lineStarts[line];
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const stream = new StringStream(text.slice(lineStart, lineEnd), 4, 4);
    while (!stream.eol()) {
      const before = { phase: state.phase, depth: state.depth };
      stream.start = stream.pos;
      const style = token(stream, state, this.words);
      const from = lineStart + stream.start;
      const to = lineStart + stream.pos;
      if (to >= pos && from < pos) return { ...before, style: style || "", from, to };
      if (from >= pos) return { ...before, style: "", from: pos, to: pos };
    }
    return { phase: state.phase, depth: state.depth, style: "", from: pos, to: pos };
  }

  // Keeps the line states that the edit cannot have changed: those of lines that start
  // within the unchanged prefix of the text.
  reuse(text) {
    if (text === this.text) return;
    const old = this.text;
    const limit = Math.min(old.length, text.length);
    let same = 0;
    while (same < limit && old.charCodeAt(same) === text.charCodeAt(same)) same += 1;
    let keep = this.lineStarts.length;
    while (keep > 1 && this.lineStarts[keep - 1] > same) keep -= 1;
    this.lineStarts.length = keep;
    this.states.length = keep;
    this.text = text;
  }

  lineAtOrExtend(text, pos) {
    // Tokenize whole lines while the line after the last known one starts at or before pos.
    for (;;) {
      const last = this.lineStarts.length - 1;
      const start = this.lineStarts[last];
      const end = text.indexOf("\n", start);
      if (end < 0 || end + 1 > pos) break;
      const state = copyState(this.states[last]);
      const stream = new StringStream(text.slice(start, end), 4, 4);
      while (!stream.eol()) {
        stream.start = stream.pos;
        token(stream, state, this.words);
      }
      this.lineStarts.push(end + 1);
      this.states.push(state);
    }
    // Binary search for the last line starting at or before pos.
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** The context at `pos` of `text` from scratch (see ContextTracker). */
export function contextAt(text, pos, language, vocabulary, words) {
  return new ContextTracker(words || languageWords(vocabulary, language)).at(text, pos);
}
