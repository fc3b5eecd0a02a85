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
