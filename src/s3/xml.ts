/**
 * The S3 XML wire format: rendering responses (by hand, below) and parsing
 * request bodies (with fast-xml-parser). Handlers build plain objects; this
 * module adds the declaration, namespace and escaping.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

import { errors } from './errors.js';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  // Decode numeric character references too: SDKs send keys with newlines as &#xA;.
  htmlEntities: true,
  isArray: (name) =>
    ['Part', 'Object', 'Tag', 'CORSRule', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader'].includes(name),
});

export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined;
export interface XmlNode {
  [name: string]: XmlValue;
}

/** Renders `<root xmlns=S3>…</root>` with the XML declaration. Undefined fields are omitted. */
export function renderXml(root: string, body: XmlNode, withNamespace = true): string {
  const node: XmlNode = withNamespace ? { '@_xmlns': S3_NS, ...body } : body;
  const sequence = sequences.get(body);
  if (sequence) sequences.set(node, sequence);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  writeElement(out, root, node);
  return out.join('');
}

/*
 * The serializer is ours, not a library's: responses are the S3 wire format,
 * and a generic builder (it walked every node twice, once to drop undefined
 * fields, and matched every name against its options) made XML rendering most
 * of a 1000-entry listing's cost. The output is byte for byte what
 * fast-xml-parser's XMLBuilder gave (test/unit/xml.test.ts holds the two side
 * by side): `@_name` fields are attributes, `#text` is the element's text,
 * arrays repeat the element, undefined is omitted, '' is `<X></X>`.
 */
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Keys may contain control characters. A raw CR would be normalised to LF by
 * every XML parser (returning a key that does not exist), so, like S3, send
 * them as character references.
 */
function escapeText(text: string): string {
  return text.replace(
    // Matching control characters is the point here.
    // eslint-disable-next-line no-control-regex
    /[&<>"'\u0000-\u0008\u000B\u000C\u000D\u000E-\u001F]/g,
    (c) => ENTITY[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`,
  );
}

function writeElement(out: string[], name: string, value: XmlValue): void {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) writeElement(out, name, item);
    return;
  }
  if (typeof value !== 'object') {
    out.push(`<${name}>`, escapeText(String(value)), `</${name}>`);
    return;
  }
  out.push(`<${name}`);
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('@_') && v !== undefined) out.push(` ${k.slice(2)}="`, escapeText(String(v)), '"');
  }
  out.push('>');
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('@_')) continue;
    if (k === '#text') {
      if (v !== undefined) out.push(escapeText(String(v)));
    } else if (k === SEQUENCE_SLOT) {
      for (const [childName, child] of sequences.get(value) ?? []) writeElement(out, childName, child);
    } else writeElement(out, k, v);
  }
  out.push(`</${name}>`);
}

/**
 * Children of different names in one order: an object has one key per
 * name, so ListObjectVersions' interleaved Version and DeleteMarker
 * elements are written where a slot field stands.
 */
const SEQUENCE_SLOT = 'AnvilSequenceSlot';
const sequences = new WeakMap<XmlNode, Array<[string, XmlNode]>>();
export function withSequence(body: XmlNode, slotAfter: string, children: Array<[string, XmlNode]>): XmlNode {
  const out: XmlNode = {};
  for (const [k, v] of Object.entries(body)) {
    out[k] = v;
    if (k === slotAfter) out[SEQUENCE_SLOT] = '';
  }
  sequences.set(out, children);
  return out;
}

/** S3's documents are a few levels deep; anything far deeper is an attack on the parser's stack. */
const MAX_DEPTH = 32;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a request body; anything not well-formed is MalformedXML. A body
 * arrives as bytes and is decoded strictly: a lenient decoder would turn bytes
 * that are not UTF-8 into U+FFFD, and the parser drops character references it
 * cannot represent (&#0;) — either way a key in a DeleteObjects body would
 * silently become another key. Every text that cannot be a key fails the
 * request instead.
 */
export function parseXml(input: Buffer | string): Record<string, unknown> {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      throw errors.malformedXML();
    }
  }
  if (text.trim() === '') throw errors.malformedXML();
  checkXmlText(text);
  let valid: ReturnType<typeof XMLValidator.validate>;
  try {
    valid = XMLValidator.validate(text);
  } catch {
    throw errors.malformedXML();
  }
  if (valid !== true) throw errors.malformedXML();
  try {
    return parser.parse(controlReferencesAsText(text)) as Record<string, unknown>;
  } catch {
    throw errors.malformedXML();
  }
}

/**
 * The parser drops references to C0 control characters (&#x1; comes out as
 * nothing), yet keys may hold them and S3 clients send them that way — our
 * own listings do (escapeControls). It keeps such characters when they are
 * written raw, so they are written raw before parsing, outside CDATA sections
 * where a reference is only text. (TAB, LF and CR it decodes itself, and raw
 * CR would be normalised to LF.)
 */
function controlReferencesAsText(text: string): string {
  return text
    .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(/&#(x[0-9a-fA-F]+|[0-9]+);/g, (ref, num: string) => {
            const code = num[0] === 'x' ? parseInt(num.slice(1), 16) : parseInt(num, 10);
            return code < 0x20 && code !== 0x9 && code !== 0xa && code !== 0xd ? String.fromCharCode(code) : ref;
          }),
    )
    .join('');
}

/**
 * What the parser would accept but must not: NUL and unpaired surrogates, raw
 * or as character references (and references beyond Unicode), document type
 * declarations (S3 takes none; they bring entity expansion), and nesting
 * deeper than any S3 document.
 */
function checkXmlText(text: string): void {
  if (text.includes('\0') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) {
    throw errors.malformedXML();
  }
  // Only XML's five entities and numeric references exist without a DTD; the parser would keep
  // anything else (&foo;, &#;) as literal text, another key than the one a client meant.
  // Inside CDATA sections and comments '&' and '<' are only text, so the checks below skip them.
  const markup = text.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->/g, '');
  if (/<!DOCTYPE/i.test(markup)) throw errors.malformedXML();
  if (/&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.test(markup)) throw errors.malformedXML();
  for (const m of markup.matchAll(/&#(x[0-9a-fA-F]+|[0-9]+);?/g)) {
    const ref = m[1];
    const code = ref[0] === 'x' ? parseInt(ref.slice(1), 16) : parseInt(ref, 10);
    if (!m[0].endsWith(';') || !Number.isFinite(code) || code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      throw errors.malformedXML();
    }
  }
  let depth = 0;
  for (const m of markup.matchAll(/<(\/?)[^\s>/!?][^>]*?(\/?)>/g)) {
    if (m[1]) depth--;
    else if (!m[2] && ++depth > MAX_DEPTH) throw errors.malformedXML();
  }
}

/** S3's timestamp format in XML: ISO 8601 with milliseconds. */
export function xmlDate(d: Date): string {
  return d.toISOString();
}
