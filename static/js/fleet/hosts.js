// What the fleet's hosts look like to the page, without the DOM: which hosts a selection
// takes (names, fnmatch patterns and tags, as the server reads POST /api/runs's "hosts"),
// how long ago a host was heard from, and what each host state of a run is called.

/** The terms of what was typed: names, patterns (`web-*`) and tags (`tag:db`), split at
 * commas and white space, each once. */
export function selectionTerms(text) {
  const seen = new Set();
  for (const term of String(text || "").split(/[\s,]+/)) if (term) seen.add(term);
  return [...seen];
}

// A pattern is read as Python's fnmatch.fnmatchcase reads it (the server's matching): `*`,
// `?`, `[abc]`, `[a-z]`, `[!abc]`, a `[` left open standing for itself.  It is matched
// without a RegExp (no backtracking blow-up on many `*`): each part takes one character, so
// a walk that goes back only to the last `*` takes at most pattern x name steps.
const STAR = "*";
const codeOf = (ch) => (ch === undefined ? -1 : ch.codePointAt(0));

/** The class `[...]` whose inside is `chars` (code points), as a test of one code point,
 * or null when Python would refuse it (a range that goes down). */
function bracketTest(chars) {
  let stuff = chars;
  if (chars.includes("-")) {
    // fnmatch's own reading of hyphens: where ranges are, and empty ones dropped.
    const chunks = [];
    let i = 0;
    let k = chars[0] === "!" ? 2 : 1;
    for (;;) {
      k = chars.indexOf("-", k);
      if (k < 0) break;
      chunks.push(chars.slice(i, k));
      i = k + 1;
      k += 3;
    }
    const last = chars.slice(i);
    if (last.length) chunks.push(last);
    else chunks[chunks.length - 1] = [...chunks[chunks.length - 1], "-"];
    for (let c = chunks.length - 1; c > 0; c--) {
      const before = chunks[c - 1];
      if (codeOf(before[before.length - 1]) > codeOf(chunks[c][0])) {
        chunks[c - 1] = [...before.slice(0, -1), ...chunks[c].slice(1)];
        chunks.splice(c, 1);
      }
    }
    // Each chunk's characters stand for themselves; each join is a range.
    stuff = [];
    chunks.forEach((chunk, c) => {
      if (c) stuff.push({ range: true });
      for (const ch of chunk) stuff.push(ch === "-" ? { literal: "-" } : ch);
    });
  }
  if (!stuff.length) return () => false;
  const negated = stuff[0] === "!";
  if (negated) stuff = stuff.slice(1);
  if (!stuff.length) return () => true;
  const items = [];
  const char = (x) => (typeof x === "string" ? x : "-"); // both kinds of token are a hyphen
  for (let i = 0; i < stuff.length; i++) {
    const lo = char(stuff[i]);
    const dash = stuff[i + 1];
    if (dash?.range && i + 2 < stuff.length) {
      const hi = char(stuff[i + 2]);
      if (hi.codePointAt(0) < lo.codePointAt(0)) return null;
      items.push([lo.codePointAt(0), hi.codePointAt(0)]);
      i += 2;
    } else {
      items.push([lo.codePointAt(0), lo.codePointAt(0)]);
    }
  }
  return (c) => {
    const code = c.codePointAt(0);
    return items.some(([lo, hi]) => code >= lo && code <= hi) !== negated;
  };
}

/** The parts of fnmatch pattern `pattern`: STAR, or a test of one code point; null when
 * the pattern is one Python refuses. */
export function patternParts(pattern) {
  const pat = Array.from(pattern);
  const parts = [];
  const n = pat.length;
  let i = 0;
  while (i < n) {
    const c = pat[i++];
    if (c === "*") {
      if (parts[parts.length - 1] !== STAR) parts.push(STAR);
    } else if (c === "?") {
      parts.push(() => true);
    } else if (c === "[") {
      let j = i;
      if (j < n && pat[j] === "!") j++;
      if (j < n && pat[j] === "]") j++;
      while (j < n && pat[j] !== "]") j++;
      if (j >= n) {
        parts.push((x) => x === "[");
        continue;
      }
      const test = bracketTest(pat.slice(i, j));
      if (!test) return null;
      parts.push(test);
      i = j + 1;
    } else {
      parts.push((x) => x === c);
    }
  }
  return parts;
}

/** Whether `name` matches fnmatch pattern `pattern` (a refused pattern matches nothing). */
export function patternMatches(pattern, name, parts = patternParts(pattern)) {
  if (!parts) return false;
  const s = Array.from(name);
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < parts.length && parts[p] === STAR) {
      starP = p++;
      starI = i;
    } else if (p < parts.length && parts[p](s[i])) {
      p++;
      i++;
    } else if (starP >= 0) {
      p = starP + 1;
      i = ++starI;
    } else {
      return false;
    }
  }
  while (p < parts.length && parts[p] === STAR) p++;
  return p === parts.length;
}

/** Whether `host` ({name, tags}) is taken by `term`. */
export function termTakes(term, host) {
  if (term.startsWith("tag:")) return (host.tags || []).includes(term.slice(4));
  return patternMatches(term, host.name);
}

/** For each host the terms that take it: Map name -> [term]; a host no term takes is not
 * in it. */
export function matchedBy(terms, hosts) {
  const found = new Map();
  const tests = terms.map((term) => {
    if (term.startsWith("tag:")) return (h) => termTakes(term, h);
    const parts = patternParts(term);
    return (h) => patternMatches(term, h.name, parts);
  });
  for (const host of hosts) {
    const by = terms.filter((_, i) => tests[i](host));
    if (by.length) found.set(host.name, by);
  }
  return found;
}

/** "just now", "3 s ago", "4 min ago", "2 h ago", "3 d ago" for an epoch-seconds time. */
export function secondsAgo(epoch, now = Date.now() / 1000) {
  if (typeof epoch !== "number" || !Number.isFinite(epoch)) return "never";
  const s = Math.max(0, now - epoch);
  if (s < 1) return "just now";
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A host's state in a run (docs/fleet.md, "Hosts: online, lost, returned"), in words. */
export const HOST_STATE_LABEL = {
  waiting: "waiting",
  online: "online",
  lost: "lost — last data kept",
  returned: "returned",
  finished: "finished",
  failed: "failed",
};

export function hostStateLabel(state) {
  return HOST_STATE_LABEL[state] || String(state || "unknown");
}
