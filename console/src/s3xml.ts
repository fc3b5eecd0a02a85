/** Reading the S3 API's XML answers (the browser's own parser). */
export interface Listing {
  folders: string[];
  objects: Array<{ key: string; size: number; lastModified: string; etag: string }>;
  nextToken: string | null;
}

function text(el: Element | Document, name: string): string {
  return el.getElementsByTagName(name)[0]?.textContent ?? '';
}

export function parseListing(xml: string): Listing {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const folders = Array.from(doc.getElementsByTagName('CommonPrefixes'), (p) => text(p, 'Prefix'));
  const objects = Array.from(doc.getElementsByTagName('Contents'), (c) => ({
    key: text(c, 'Key'),
    size: Number(text(c, 'Size')),
    lastModified: text(c, 'LastModified'),
    etag: text(c, 'ETag'),
  }));
  const truncated = text(doc, 'IsTruncated') === 'true';
  return { folders, objects, nextToken: truncated ? text(doc, 'NextContinuationToken') || null : null };
}

/** GetObjectTagging's answer as [key, value] pairs. */
export function parseTags(xml: string): Array<[string, string]> {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  return Array.from(doc.getElementsByTagName('Tag'), (t): [string, string] => [text(t, 'Key'), text(t, 'Value')]);
}

const escapeXml = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

/** PutObjectTagging's body. */
export function tagsXml(tags: Array<[string, string]>): string {
  const set = tags.map(([k, v]) => `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`;
}
