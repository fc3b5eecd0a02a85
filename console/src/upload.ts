/** Uploads with progress: one presigned PUT per file, sent by XMLHttpRequest (fetch reports no upload progress). */
import { ApiError, s3Url } from './api.js';

export interface UploadHandle {
  done: Promise<void>;
  abort(): void;
}

export async function upload(bucket: string, key: string, file: File, onProgress: (sent: number) => void): Promise<UploadHandle> {
  const url = await s3Url('PUT', bucket, key, {}, 3600);
  const xhr = new XMLHttpRequest();
  const done = new Promise<void>((resolve, reject) => {
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size);
        resolve();
        return;
      }
      const code = /<Code>([^<]*)<\/Code>/.exec(xhr.responseText)?.[1] ?? String(xhr.status);
      const msg = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText)?.[1] ?? `HTTP ${xhr.status}`;
      reject(new ApiError(xhr.status, code, msg));
    };
    xhr.onerror = () => reject(new Error('the upload failed (network error)'));
    xhr.onabort = () => reject(new Error('upload cancelled'));
  });
  xhr.open('PUT', url);
  xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
  xhr.send(file);
  return { done, abort: () => xhr.abort() };
}
