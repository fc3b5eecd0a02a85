import fc from 'fast-check';
import { XMLBuilder } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';

import { parseXml, renderXml, S3_NS, withSequence, type XmlNode, type XmlValue } from '../../src/s3/xml.js';

function key(body: string): unknown {
  const doc = parseXml(`<Delete><Object><Key>${body}</Key></Object></Delete>`) as { Delete: { Object: { Key: unknown }[] } };
  return doc.Delete.Object[0].Key;
}

describe('parseXml', () => {
  // Found by fuzz-xml in CI: a reference inside CDATA is text, not a reference to NUL.
  it('takes CDATA content literally, references and markup included', () => {
    expect(key('<![CDATA[&#0;<x>]]>')).toBe('&#0;<x>');
    expect(key('<![CDATA[&bogus;]]>')).toBe('&bogus;');
    expect(key('<![CDATA[<!DOCTYPE x>]]>')).toBe('<!DOCTYPE x>');
    expect(key(`<![CDATA[${'<a>'.repeat(40)}]]>`)).toBe('<a>'.repeat(40));
  });

  it('ignores comments when checking references', () => {
    expect(key('a<!-- & &#0; -->b')).toBe('ab');
  });

  it('still refuses NUL, unknown entities, doctypes and deep nesting outside CDATA', () => {
    for (const bad of ['&#0;', '&#x0;', '&bogus;', '&#xD800;', '&#1114112;']) {
      expect(() => key(bad), bad).toThrow(/not well-formed/);
    }
    expect(() => parseXml('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')).toThrow(/not well-formed/);
    expect(() => parseXml(`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`)).toThrow(/not well-formed/);
  });

  it('keeps control characters sent as references outside CDATA', () => {
    expect(key('a&#x1;b')).toBe('a\u0001b');
  });
});

describe('renderXml', () => {
  // The former renderer, kept as the oracle: the hand serializer must give the same bytes.
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false });
  // eslint-disable-next-line no-control-regex
  const controls = /[\u0000-\u0008\u000B\u000C\u000D\u000E-\u001F]/g;
  function oracle(root: string, body: XmlNode): string {
    const prune = (v: XmlValue): XmlValue => {
      if (Array.isArray(v)) return v.map(prune);
      if (v && typeof v === 'object') {
        const out: XmlNode = {};
        for (const [k, val] of Object.entries(v)) if (val !== undefined) out[k] = prune(val);
        return out;
      }
      return v;
    };
    const xml = builder.build({ [root]: prune({ '@_xmlns': S3_NS, ...body }) }) as string;
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml.replace(controls, (c) => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
  }

  const name = fc.constantFrom('Key', 'Size', 'Prefix', 'Owner', 'Contents', 'ID', 'Grantee', 'Tag');
  const text = fc.string({ unit: fc.constantFrom('a', 'Z', '&', '<', '>', '"', "'", ' ', '\r', '\u0001', '\u001f', 'é', '𝄞', '\t', '\n') });
  const leaf = fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(undefined));
  const node = fc.letrec<{ node: XmlNode; value: XmlValue }>((tie) => ({
    node: fc
      .tuple(fc.dictionary(name, tie('value'), { maxKeys: 4 }), fc.option(text, { nil: undefined }))
      .map(([fields, attr]) => (attr === undefined ? fields : { '@_xsi:type': attr, ...fields })),
    value: fc.oneof({ depthSize: 'small' }, leaf, tie('node'), fc.array(fc.oneof(leaf, tie('node')), { maxLength: 3 })),
  }));

  it('gives the same bytes as fast-xml-parser’s builder for any document', () => {
    fc.assert(
      fc.property(node.node, (body) => {
        expect(renderXml('Root', body)).toBe(oracle('Root', body));
      }),
      { numRuns: 500 },
    );
  });

  it('writes interleaved sequences in place and text content', () => {
    const body = withSequence({ Name: 'b', IsTruncated: false, MaxKeys: 2 }, 'IsTruncated', [
      ['Version', { Key: 'a&b', Size: 1 }],
      ['DeleteMarker', { Key: 'c\r' }],
    ]);
    expect(renderXml('ListVersionsResult', body)).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="${S3_NS}"><Name>b</Name><IsTruncated>false</IsTruncated>` +
        '<Version><Key>a&amp;b</Key><Size>1</Size></Version><DeleteMarker><Key>c&#xD;</Key></DeleteMarker><MaxKeys>2</MaxKeys></ListVersionsResult>',
    );
    expect(renderXml('LocationConstraint', { '#text': 'eu-1' })).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_NS}">eu-1</LocationConstraint>`,
    );
  });
});
