/**
 * fast-check generators for S3 XML request bodies. Text content is built
 * from pieces whose meaning under XML 1.0 is known, so each generated
 * document comes with its oracle: the exact string a conformant parser reads
 * (or the fact that no string may be read from it).
 *
 *   strict  — every XML parser reads exactly `value` (plain text, the five
 *             predefined entities, character references to XML Chars, CDATA)
 *   lenient — not quite XML 1.0, but one reading is plausible: `value`, or
 *             the request may be refused (&#x1;, &#xFFFE;, &nbsp;, a comment inside text)
 *   invalid — cannot be text of any key, tag or id: NUL, surrogates, code
 *             points past U+10FFFF, undefined entities, invalid
 *             UTF-8. The server must refuse it; it must never read another string.
 */
import fc from 'fast-check';

export type Validity = 'strict' | 'lenient' | 'invalid';

export interface Piece {
  bytes: Buffer;
  value: string;
  validity: Validity;
  label: string;
}

export interface Text {
  bytes: Buffer;
  /** the string a conformant parser reads, when validity is not 'invalid' */
  value: string;
  validity: Validity;
  /** human-readable form for failure messages */
  label: string;
}

const piece = (xml: string | Buffer, value: string, validity: Validity, label?: string): Piece => ({
  bytes: Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8'),
  value,
  validity,
  label: label ?? (Buffer.isBuffer(xml) ? `<bytes ${xml.toString('hex')}>` : xml),
});

/** Plain characters (few, so that mis-decoded texts collide with existing names). */
export const PLAIN = ['a', 'b'] as const;

export const STRICT_PIECES: Piece[] = [
  piece('&amp;', '&', 'strict'),
  piece('&lt;', '<', 'strict'),
  piece('&gt;', '>', 'strict'),
  piece('&quot;', '"', 'strict'),
  piece('&apos;', "'", 'strict'),
  piece('&#65;', 'A', 'strict'),
  piece('&#x20;', ' ', 'strict'),
  piece('&#xA;', '\n', 'strict'),
  piece('&#xD;', '\r', 'strict'),
  piece('&#x9;', '\t', 'strict'),
  piece('&#xE9;', 'é', 'strict'),
  piece('&#x1F600;', '😀', 'strict'),
  piece('&#xFFFD;', '\uFFFD', 'strict'),
  piece('&#xFFFC;', '\uFFFC', 'strict'),
  piece('é', 'é', 'strict'),
  piece('😀', '😀', 'strict'),
  piece(' ', ' ', 'strict'),
  piece('/', '/', 'strict'),
  piece('<![CDATA[&#0;<x>]]>', '&#0;<x>', 'strict'),
  piece('<![CDATA[a]]>', 'a', 'strict'),
];

export const LENIENT_PIECES: Piece[] = [
  // Control characters are not XML 1.0 Chars, but S3 (and Anvil) write keys holding them as &#x1;…
  piece('&#x1;', '\u0001', 'lenient'),
  piece('&#x1F;', '\u001F', 'lenient'),
  piece('&#x7F;', '\u007F', 'lenient'),
  piece(Buffer.from([0x01]), '\u0001', 'lenient', '<raw 0x01>'),
  piece('&nbsp;', '\u00A0', 'lenient'),
  // Noncharacters are not XML 1.0 Chars either, but they are valid UTF-8 and so valid keys.
  piece('&#xFFFE;', '\uFFFE', 'lenient'),
  piece('&#xFFFF;', '\uFFFF', 'lenient'),
  piece(Buffer.from([0xef, 0xbf, 0xbe]), '\uFFFE', 'lenient', '<raw U+FFFE>'),
  piece('<!--c-->', '', 'lenient'),
  piece('<?pi x?>', '', 'lenient'),
];

export const INVALID_PIECES: Piece[] = [
  piece('&#0;', '', 'invalid'),
  piece('&#x0;', '', 'invalid'),
  piece('&#x00000;', '', 'invalid'),
  piece('&#xD800;', '', 'invalid'),
  piece('&#xDFFF;', '', 'invalid'),
  piece('&#55296;', '', 'invalid'),
  piece('&#xD83D;&#xDE00;', '', 'invalid'),
  piece('&#x110000;', '', 'invalid'),
  piece('&#99999999999999;', '', 'invalid'),
  piece('&#x;', '', 'invalid'),
  piece('&#;', '', 'invalid'),
  piece('&#xZZ;', '', 'invalid'),
  piece('&#65', '', 'invalid'),
  piece('&foo;', '', 'invalid'),
  piece('&', '', 'invalid'),
  piece('<', '', 'invalid'),
  piece(Buffer.from([0x00]), '', 'invalid', '<raw NUL>'),
  piece(Buffer.from([0xff]), '', 'invalid'),
  piece(Buffer.from([0xc3, 0x28]), '', 'invalid'),
  piece(Buffer.from([0xc0, 0xaf]), '', 'invalid'),
  piece(Buffer.from([0xed, 0xa0, 0x80]), '', 'invalid'),
  piece(Buffer.from([0xf4, 0x90, 0x80, 0x80]), '', 'invalid'),
  piece(Buffer.from([0xe2, 0x82]), '', 'invalid'),
];

/**
 * Texts a buggy decoder might read from the generated ones: dropped or
 * kept-literal references, U+FFFD for bad bytes. Pre-creating these names
 * makes a mis-decoding visible as a change to an existing object.
 */
export function likelyMisreadings(): string[] {
  const middles = ['', '\uFFFD', '\uFFFD\uFFFD', '\uFFFD(', '\u00A0', '&foo;', '&#x110000;', '&#99999999999999;', '\uFFFE', '\uD800'];
  const out = new Set<string>();
  for (const pre of ['', 'a']) for (const mid of middles) for (const post of ['', 'b']) out.add(pre + mid + post);
  out.delete('');
  // Lone surrogates cannot be stored as UTF-8 anyway.
  return [...out].filter((k) => !/[\uD800-\uDFFF]/.test(k));
}

const plainArb = fc.constantFrom(...PLAIN).map((c) => piece(c, c, 'strict'));

/** A piece: mostly plain and strict, often one that must be refused. */
export const pieceArb: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: plainArb },
  { weight: 3, arbitrary: fc.constantFrom(...STRICT_PIECES) },
  { weight: 2, arbitrary: fc.constantFrom(...LENIENT_PIECES) },
  { weight: 3, arbitrary: fc.constantFrom(...INVALID_PIECES) },
);

export function joinPieces(pieces: Piece[]): Text {
  const order: Validity[] = ['strict', 'lenient', 'invalid'];
  let validity: Validity = 'strict';
  for (const p of pieces) if (order.indexOf(p.validity) > order.indexOf(validity)) validity = p.validity;
  return {
    bytes: Buffer.concat(pieces.map((p) => p.bytes)),
    value: pieces.map((p) => p.value).join(''),
    validity,
    label: pieces.map((p) => p.label).join(''),
  };
}

/** 'a' + pieces + 'b' and the like: short texts with a good chance of one odd piece in the middle. */
export const textArb: fc.Arbitrary<Text> = fc
  .tuple(fc.constantFrom('', 'a'), fc.array(pieceArb, { minLength: 0, maxLength: 3 }), fc.constantFrom('', 'b'))
  .map(([pre, mid, post]) => {
    const pieces = [...(pre ? [piece(pre, pre, 'strict')] : []), ...mid, ...(post ? [piece(post, post, 'strict')] : [])];
    return joinPieces(pieces.length ? pieces : [piece('a', 'a', 'strict')]);
  });

/** A text that is exactly `value` with one arbitrary piece spliced in somewhere (to spoil an id or URI). */
export function spliced(value: string): fc.Arbitrary<Text> {
  return fc.tuple(fc.nat({ max: value.length }), fc.option(pieceArb, { nil: undefined, freq: 3 })).map(([at, p]) => {
    const head = piece(xmlEscape(value.slice(0, at)), value.slice(0, at), 'strict');
    const tail = piece(xmlEscape(value.slice(at)), value.slice(at), 'strict');
    return joinPieces(p ? [head, p, tail] : [head, tail]);
  });
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export const text = (s: string): Text => ({ bytes: Buffer.from(xmlEscape(s)), value: s, validity: 'strict', label: s });

/** An element tree whose leaves are Texts; rendering keeps the oracle (validity of the worst leaf). */
export type XmlTree = { name: string; children: Array<XmlTree | Text> };

export const el = (name: string, ...children: Array<XmlTree | Text>): XmlTree => ({ name, children });

function isText(n: XmlTree | Text): n is Text {
  return (n as Text).bytes !== undefined;
}

export function render(tree: XmlTree, opts: { declaration?: boolean; namespace?: boolean; bom?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  if (opts.bom) parts.push(Buffer.from([0xef, 0xbb, 0xbf]));
  if (opts.declaration) parts.push(Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n'));
  const walk = (n: XmlTree, root: boolean) => {
    const ns = root && opts.namespace ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' : '';
    parts.push(Buffer.from(`<${n.name}${ns}>`));
    for (const c of n.children) {
      if (isText(c)) parts.push(c.bytes);
      else walk(c, false);
    }
    parts.push(Buffer.from(`</${n.name}>`));
  };
  walk(tree, true);
  return Buffer.concat(parts);
}

export const envelopeArb = fc.record({ declaration: fc.boolean(), namespace: fc.boolean(), bom: fc.boolean() });

/**
 * Structural damage to a well-formed document. Every result must be refused
 * (it is not well-formed, or not the expected document), except 'deep' and
 * 'doctype-entity', which are well-formed XML 1.0 that the server may refuse
 * or read — but a read must mean exactly what the document says.
 */
export type Damage =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'deep'; depth: number }
  | { kind: 'unclosed' }
  | { kind: 'mismatched' }
  | { kind: 'two-roots' }
  | { kind: 'wrong-root' }
  | { kind: 'raw-lt' }
  | { kind: 'billion-laughs' }
  | { kind: 'external-entity' }
  | { kind: 'prototype-names' }
  | { kind: 'empty' }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'oversize' };

export const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Damage>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map<Damage>((at) => ({ kind: 'truncate', at })) },
  { weight: 2, arbitrary: fc.constantFrom(10, 200, 5_000, 60_000).map<Damage>((depth) => ({ kind: 'deep', depth })) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'unclosed' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'mismatched' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'two-roots' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'wrong-root' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'raw-lt' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'billion-laughs' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'external-entity' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'prototype-names' }) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'empty' }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map<Damage>((bytes) => ({ kind: 'garbage', bytes })) },
  { weight: 1, arbitrary: fc.constant<Damage>({ kind: 'oversize' }) },
);

/** Whether the damaged document may still be read (as exactly what its undamaged form says). */
export function mayBeAccepted(d: Damage): boolean {
  // Unknown elements (even named __proto__) are well-formed: a reader may skip them.
  return d.kind === 'none' || d.kind === 'deep' || d.kind === 'prototype-names';
}

/**
 * Applies damage to a rendered document whose root element is `root`.
 * 'deep' nests empty elements inside the root, before its first child: the
 * document still says the same thing to a reader that skips unknown elements.
 */
export function damage(doc: Buffer, root: string, d: Damage, sizeLimit: number): Buffer {
  const s = doc.toString('latin1');
  const rootOpen = s.indexOf('>', s.indexOf(`<${root}`)) + 1;
  const rootClose = s.lastIndexOf(`</${root}>`);
  const insert = (at: number, what: string) => Buffer.concat([doc.subarray(0, at), Buffer.from(what, 'utf8'), doc.subarray(at)]);
  switch (d.kind) {
    case 'none':
      return doc;
    case 'truncate':
      // Cut strictly inside the root element: never a complete document.
      return doc.subarray(0, rootOpen - 1 + Math.floor(d.at * (rootClose - rootOpen + 1)));
    case 'deep':
      return insert(rootOpen, '<Nest>'.repeat(d.depth) + '</Nest>'.repeat(d.depth));
    case 'unclosed':
      return doc.subarray(0, rootClose);
    case 'mismatched':
      return insert(rootOpen, '<A><B></A></B>');
    case 'two-roots':
      return Buffer.concat([doc, doc]);
    case 'wrong-root':
      return Buffer.from(s.replace(`<${root}`, '<Nope').replace(`</${root}>`, '</Nope>'), 'latin1');
    case 'raw-lt':
      return insert(rootOpen, 'a < b');
    case 'billion-laughs': {
      const levels = ['<!ENTITY l0 "lollollollollol">'];
      for (let i = 1; i < 10; i++) levels.push(`<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`);
      return Buffer.concat([Buffer.from(`<!DOCTYPE ${root} [${levels.join('')}]>`), insert(rootOpen, '&l9;')]);
    }
    case 'external-entity':
      return Buffer.concat([Buffer.from(`<!DOCTYPE ${root} [<!ENTITY ext SYSTEM "file:///etc/passwd">]>`), insert(rootOpen, '&ext;')]);
    case 'prototype-names':
      return insert(rootOpen, '<__proto__><polluted>yes</polluted></__proto__><constructor><prototype>x</prototype></constructor>');
    case 'empty':
      return Buffer.alloc(0);
    case 'garbage':
      return Buffer.from(d.bytes);
    case 'oversize':
      return insert(rootOpen, `<Pad>${'x'.repeat(sizeLimit + 1)}</Pad>`);
  }
}

/** Decodes the text of an element in an XML response (Anvil's answers: predefined entities and &#…; only). */
export function decodeXmlText(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_m, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

/** The decoded texts of every `<inner>` inside every `<outer>` of an XML response. */
export function textsIn(xml: string, outer: string, inner: string): string[] {
  const out: string[] = [];
  for (const m of xml.matchAll(new RegExp(`<${outer}>([\\s\\S]*?)</${outer}>`, 'g'))) {
    const k = new RegExp(`<${inner}>([\\s\\S]*?)</${inner}>`).exec(m[1]);
    if (k) out.push(decodeXmlText(k[1]));
  }
  return out;
}
