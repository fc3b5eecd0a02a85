/** The Range request header, as S3 supports it: one byte range (a-b, a-, -n). */
import { S3Error } from '../errors.js';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Returns the satisfiable range, undefined when the header is absent or not
 * a single byte range (S3 then serves the whole object), and throws
 * InvalidRange (416) when the range lies past the end.
 */
export function parseRange(value: string | undefined, size: number): ByteRange | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const invalid = () =>
    new S3Error(
      'InvalidRange',
      'The requested range is not satisfiable',
      416,
      { RangeRequested: value, ActualObjectSize: size },
      {
        'Content-Range': `bytes */${size}`,
      },
    );
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  let end = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && end < start) return undefined;
  if (start >= size) throw invalid();
  end = Math.min(end, size - 1);
  return { start, end };
}
