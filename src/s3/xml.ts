/**
 * The S3 XML wire format: rendering responses and parsing request bodies
 * with fast-xml-parser. Handlers build plain objects; this module adds the
 * declaration, namespace and escaping.
 */
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors } from './errors.js';

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false });
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
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + escapeControls(builder.build({ [root]: prune(node) }));
}

/**
 * Keys may contain control characters. A raw CR would be normalised to LF by
 * every XML parser (returning a key that does not exist), so, like S3, send
 * them as character references. The builder never emits raw controls itself.
 */
function escapeControls(xml: string): string {
  return xml.replace(/[\u0000-\u0008\u000B\u000C\u000D\u000E-\u001F]/g, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

function prune(v: XmlValue): XmlValue {
  if (Array.isArray(v)) return v.map(prune);
  if (v && typeof v === 'object') {
    const out: XmlNode = {};
    for (const [k, val] of Object.entries(v)) if (val !== undefined) out[k] = prune(val);
    return out;
  }
  return v;
}

/** Parses a request body; anything not well-formed is MalformedXML. */
export function parseXml(text: string): Record<string, unknown> {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw errors.malformedXML();
  return parser.parse(text) as Record<string, unknown>;
}

/** S3's timestamp format in XML: ISO 8601 with milliseconds. */
export function xmlDate(d: Date): string {
  return d.toISOString();
}
