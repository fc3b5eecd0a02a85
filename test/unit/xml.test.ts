import { describe, expect, it } from 'vitest';

import { parseXml } from '../../src/s3/xml.js';

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
