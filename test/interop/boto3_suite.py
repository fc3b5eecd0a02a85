#!/usr/bin/python3
"""boto3 interop cases for Anvil, driven by test/interop/boto3.test.ts.

Usage: boto3_suite.py CASE BUCKET WORKDIR
Environment: ANVIL_ENDPOINT, ANVIL_ACCESS_KEY, ANVIL_SECRET_KEY.

Each case talks to a live Anvil through Debian's python3-boto3 (and, for the
presigned cases, a plain urllib client), checks what it can itself, and prints
one JSON object on stdout with what it observed (sha256 of bytes, listings,
headers, statuses) so the TypeScript side asserts on it too. Any failed check
raises, so the process exits non-zero with a traceback on stderr.
"""
import hashlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
import uuid

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024
ENDPOINT = os.environ['ANVIL_ENDPOINT']


def client():
    return boto3.session.Session(
        aws_access_key_id=os.environ['ANVIL_ACCESS_KEY'],
        aws_secret_access_key=os.environ['ANVIL_SECRET_KEY'],
        region_name='us-east-1',
    ).client(
        's3',
        endpoint_url=ENDPOINT,
        config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}),
    )


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(MiB), b''):
            h.update(chunk)
    return h.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def ensure_bucket(s3, bucket):
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def case_transfer(s3, bucket, work):
    """30 MiB through the transfer manager: multipart upload, multi-threaded ranged download."""
    src = os.path.join(work, 'boto3-30m.bin')
    with open(src, 'wb') as f:
        for _ in range(30):
            f.write(os.urandom(MiB))
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4, use_threads=True)

    lock = threading.Lock()
    seen = {'upload_parts': 0, 'ranges': [], 'get_threads': set()}

    def on_part(request, **_):
        with lock:
            seen['upload_parts'] += 1

    def on_get(request, **_):
        with lock:
            seen['ranges'].append(request.headers.get('Range'))
            seen['get_threads'].add(threading.get_ident())

    s3.meta.events.register('before-send.s3.UploadPart', on_part)
    s3.meta.events.register('before-send.s3.GetObject', on_get)

    s3.upload_file(src, bucket, 'transfer/30m.bin', Config=cfg)
    head = s3.head_object(Bucket=bucket, Key='transfer/30m.bin')
    dst = os.path.join(work, 'boto3-30m.down')
    s3.download_file(bucket, 'transfer/30m.bin', dst, Config=cfg)
    ranges = [r.decode() if isinstance(r, bytes) else r for r in seen['ranges']]
    return {
        'srcSha256': sha256_file(src),
        'downSha256': sha256_file(dst),
        'downSize': os.path.getsize(dst),
        'contentLength': head['ContentLength'],
        'etag': head['ETag'],
        'uploadParts': seen['upload_parts'],
        'ranges': sorted(r for r in ranges if r),
        'unrangedGets': sum(1 for r in ranges if not r),
        'getThreads': len(seen['get_threads']),
    }


def case_paginate(s3, bucket, work):
    """list_objects_v2 paginator over 25 keys, 10 per page, plus a delimited listing."""
    keys = ['page/k%02d.txt' % i for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3.put_object(Bucket=bucket, Key='page/sub/inner.txt', Body=b'inner')
    pages = []
    for page in s3.get_paginator('list_objects_v2').paginate(
        Bucket=bucket, Prefix='page/k', PaginationConfig={'PageSize': 10}
    ):
        pages.append({
            'keyCount': page['KeyCount'],
            'isTruncated': page['IsTruncated'],
            'keys': [o['Key'] for o in page.get('Contents', [])],
            'sizes': [o['Size'] for o in page.get('Contents', [])],
        })
    delimited = s3.list_objects_v2(Bucket=bucket, Prefix='page/', Delimiter='/', MaxKeys=1000)
    v1 = []
    for page in s3.get_paginator('list_objects').paginate(Bucket=bucket, Prefix='page/k', PaginationConfig={'PageSize': 7}):
        v1.append([o['Key'] for o in page.get('Contents', [])])
    return {
        'expected': keys,
        'pages': pages,
        'delimitedPrefixes': [p['Prefix'] for p in delimited.get('CommonPrefixes', [])],
        'delimitedKeyCount': len(delimited.get('Contents', [])),
        'v1Pages': v1,
    }


def case_copy(s3, bucket, work):
    """copy_object with MetadataDirective COPY and REPLACE, then the bytes of the copies."""
    body = os.urandom(300 * 1024)
    s3.put_object(Bucket=bucket, Key='copy/src.bin', Body=body, ContentType='application/x-src', Metadata={'origin': 'src'})
    r1 = s3.copy_object(Bucket=bucket, Key='copy/dst-copy.bin', CopySource={'Bucket': bucket, 'Key': 'copy/src.bin'})
    r2 = s3.copy_object(
        Bucket=bucket,
        Key='copy/dst-replace.bin',
        CopySource={'Bucket': bucket, 'Key': 'copy/src.bin'},
        MetadataDirective='REPLACE',
        ContentType='text/x-replaced',
        Metadata={'origin': 'replaced'},
    )
    out = {'srcSha256': sha256(body), 'copyResultETags': [r1['CopyObjectResult']['ETag'], r2['CopyObjectResult']['ETag']]}
    for name in ('src', 'dst-copy', 'dst-replace'):
        got = s3.get_object(Bucket=bucket, Key='copy/%s.bin' % name)
        out[name] = {
            'sha256': sha256(got['Body'].read()),
            'etag': got['ETag'],
            'contentType': got['ContentType'],
            'metadata': got['Metadata'],
        }
    # The managed copy (transfer manager) of the same object.
    s3.copy({'Bucket': bucket, 'Key': 'copy/src.bin'}, bucket, 'copy/dst-managed.bin')
    out['managedSha256'] = sha256(s3.get_object(Bucket=bucket, Key='copy/dst-managed.bin')['Body'].read())
    return out


def case_delete_objects(s3, bucket, work):
    """delete_objects on present and absent keys, verbose and quiet."""
    keys = ['del/%d' % i for i in range(6)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b'x')
    verbose = s3.delete_objects(
        Bucket=bucket,
        Delete={'Objects': [{'Key': k} for k in keys[:3]] + [{'Key': 'del/absent'}]},
    )
    quiet = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in keys[3:5]], 'Quiet': True})
    left = s3.list_objects_v2(Bucket=bucket, Prefix='del/')
    return {
        'deleted': sorted(d['Key'] for d in verbose.get('Deleted', [])),
        'errors': verbose.get('Errors', []),
        'quietDeleted': quiet.get('Deleted', []),
        'quietErrors': quiet.get('Errors', []),
        'remaining': [o['Key'] for o in left.get('Contents', [])],
    }


def case_head_metadata(s3, bucket, work):
    """User metadata and standard headers round-trip through put_object/head_object."""
    body = b'metadata body\n'
    s3.put_object(
        Bucket=bucket,
        Key='meta/obj.txt',
        Body=body,
        ContentType='text/plain; charset=utf-8',
        CacheControl='max-age=60',
        ContentDisposition='attachment; filename="obj.txt"',
        ContentEncoding='identity',
        ContentLanguage='en',
        Metadata={'color': 'blue', 'multi-word': 'two words', 'CamelCase': 'v'},
    )
    h = s3.head_object(Bucket=bucket, Key='meta/obj.txt')
    try:
        s3.head_object(Bucket=bucket, Key='meta/absent.txt')
        missing = None
    except ClientError as e:
        missing = e.response['Error']['Code']
    return {
        'contentLength': h['ContentLength'],
        'contentType': h['ContentType'],
        'cacheControl': h.get('CacheControl'),
        'contentDisposition': h.get('ContentDisposition'),
        'contentEncoding': h.get('ContentEncoding'),
        'contentLanguage': h.get('ContentLanguage'),
        'metadata': h['Metadata'],
        'etag': h['ETag'],
        'md5': hashlib.md5(body).hexdigest(),
        'missingCode': missing,
    }


def fetch(url, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def case_presigned_get(s3, bucket, work):
    """generate_presigned_url for get_object, fetched with urllib; tampering is refused."""
    body = os.urandom(200 * 1024)
    s3.put_object(Bucket=bucket, Key='presign/get me.bin', Body=body)
    url = s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'presign/get me.bin'}, ExpiresIn=300)
    status, _, got = fetch(url)
    override = s3.generate_presigned_url(
        'get_object',
        Params={'Bucket': bucket, 'Key': 'presign/get me.bin', 'ResponseContentType': 'application/x-override'},
        ExpiresIn=300,
    )
    o_status, o_headers, _ = fetch(override)
    tampered = url.replace('presign/get%20me.bin', 'presign/other.bin')
    t_status, _, t_body = fetch(tampered)
    return {
        'url': url,
        'status': status,
        'srcSha256': sha256(body),
        'gotSha256': sha256(got),
        'overrideStatus': o_status,
        'overrideContentType': {k.lower(): v for k, v in o_headers.items()}.get('content-type'),
        'tamperedStatus': t_status,
        'tamperedBody': t_body.decode('utf-8', 'replace'),
    }


def multipart_form(fields, file_field, filename, content, content_type='application/octet-stream'):
    """A multipart/form-data body as a browser would send it: policy fields first, the file last."""
    boundary = '----anvil' + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v)).encode())
    parts.append((
        '--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
        % (boundary, file_field, filename, content_type)
    ).encode())
    parts.append(content)
    parts.append(('\r\n--%s--\r\n' % boundary).encode())
    return b''.join(parts), 'multipart/form-data; boundary=%s' % boundary


def case_presigned_post(s3, bucket, work):
    """generate_presigned_post, used by a plain HTTP multipart/form-data POST (POST Object)."""
    body = os.urandom(64 * 1024)
    post = s3.generate_presigned_post(
        bucket,
        'post/${filename}',
        Fields={'Content-Type': 'image/png', 'x-amz-meta-uploader': 'boto3'},
        Conditions=[
            ['starts-with', '$key', 'post/'],
            {'Content-Type': 'image/png'},
            {'x-amz-meta-uploader': 'boto3'},
            ['content-length-range', 1, 1024 * 1024],
        ],
        ExpiresIn=300,
    )
    data, ctype = multipart_form(post['fields'], 'file', 'upload.png', body)
    status, headers, resp = fetch(post['url'], data=data, headers={'Content-Type': ctype}, method='POST')
    out = {
        'url': post['url'],
        'fieldNames': sorted(post['fields']),
        'status': status,
        'etag': {k.lower(): v for k, v in headers.items()}.get('etag'),
        'response': resp.decode('utf-8', 'replace'),
        'srcSha256': sha256(body),
        'md5': hashlib.md5(body).hexdigest(),
    }
    try:
        got = s3.get_object(Bucket=bucket, Key='post/upload.png')
        out['stored'] = {
            'sha256': sha256(got['Body'].read()),
            'contentType': got['ContentType'],
            'metadata': got['Metadata'],
        }
    except ClientError as e:
        out['stored'] = {'error': e.response['Error']['Code']}

    # success_action_status=201 answers 201 with a PostResponse XML document.
    post201 = s3.generate_presigned_post(
        bucket,
        'post/created.bin',
        Fields={'success_action_status': '201'},
        Conditions=[{'success_action_status': '201'}],
        ExpiresIn=300,
    )
    data, ctype = multipart_form(post201['fields'], 'file', 'created.bin', b'created!')
    s201, _, r201 = fetch(post201['url'], data=data, headers={'Content-Type': ctype}, method='POST')
    out['created'] = {'status': s201, 'response': r201.decode('utf-8', 'replace')}
    return out


def case_presigned_post_policy(s3, bucket, work):
    """POST Object enforces its policy: a body over content-length-range and a key outside starts-with are refused."""
    post = s3.generate_presigned_post(
        bucket,
        'limited/${filename}',
        Conditions=[['starts-with', '$key', 'limited/'], ['content-length-range', 1, 1024]],
        ExpiresIn=300,
    )
    data, ctype = multipart_form(post['fields'], 'file', 'big.bin', os.urandom(4096))
    big_status, _, big_resp = fetch(post['url'], data=data, headers={'Content-Type': ctype}, method='POST')
    fields = dict(post['fields'])
    fields['key'] = 'elsewhere/x.bin'
    data, ctype = multipart_form(fields, 'file', 'x.bin', b'small')
    key_status, _, key_resp = fetch(post['url'], data=data, headers={'Content-Type': ctype}, method='POST')
    fields = dict(post['fields'])
    fields['x-amz-signature'] = '0' * 64
    data, ctype = multipart_form(fields, 'file', 'sig.bin', b'small')
    sig_status, _, sig_resp = fetch(post['url'], data=data, headers={'Content-Type': ctype}, method='POST')
    left = s3.list_objects_v2(Bucket=bucket, Prefix='limited/').get('KeyCount', 0) + \
        s3.list_objects_v2(Bucket=bucket, Prefix='elsewhere/').get('KeyCount', 0)
    return {
        'tooBig': {'status': big_status, 'response': big_resp.decode('utf-8', 'replace')},
        'wrongKey': {'status': key_status, 'response': key_resp.decode('utf-8', 'replace')},
        'badSignature': {'status': sig_status, 'response': sig_resp.decode('utf-8', 'replace')},
        'objectsCreated': left,
    }


def client_error(fn):
    """Runs fn, which must fail with a ClientError: its code, HTTP status and response headers."""
    try:
        fn()
    except ClientError as e:
        meta = e.response.get('ResponseMetadata', {})
        return {
            'code': e.response.get('Error', {}).get('Code'),
            'status': meta.get('HTTPStatusCode'),
            'deleteMarker': meta.get('HTTPHeaders', {}).get('x-amz-delete-marker'),
            'versionId': meta.get('HTTPHeaders', {}).get('x-amz-version-id'),
        }
    raise AssertionError('expected a ClientError')


def case_versioning(s3, bucket, work):
    """put_bucket_versioning, several versions per key, list_object_versions paginated, reads and deletes by version id."""
    vb = bucket + '-versions'
    s3.create_bucket(Bucket=vb)
    out = {'statusBefore': s3.get_bucket_versioning(Bucket=vb).get('Status')}
    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={'Status': 'Enabled'})
    out['statusAfter'] = s3.get_bucket_versioning(Bucket=vb).get('Status')

    bodies = {}
    doc, other = [], []
    for i in range(3):
        body = ('doc version %d\n' % i).encode() * (i + 1)
        r = s3.put_object(Bucket=vb, Key='doc.txt', Body=body)
        doc.append(r['VersionId'])
        bodies[r['VersionId']] = body
    for i in range(2):
        body = os.urandom(1000 + i)
        r = s3.put_object(Bucket=vb, Key='other.bin', Body=body)
        other.append(r['VersionId'])
        bodies[r['VersionId']] = body
    out['doc'] = doc
    out['other'] = other
    out['sha256'] = {v: sha256(b) for v, b in bodies.items()}
    out['md5'] = {v: hashlib.md5(b).hexdigest() for v, b in bodies.items()}
    out['size'] = {v: len(b) for v, b in bodies.items()}

    def listing(page_size):
        pages = []
        for page in s3.get_paginator('list_object_versions').paginate(Bucket=vb, PaginationConfig={'PageSize': page_size}):
            pages.append({
                'versions': [
                    {'key': v['Key'], 'versionId': v['VersionId'], 'isLatest': v['IsLatest'], 'etag': v['ETag'], 'size': v['Size']}
                    for v in page.get('Versions', [])
                ],
                'markers': [
                    {'key': m['Key'], 'versionId': m['VersionId'], 'isLatest': m['IsLatest']} for m in page.get('DeleteMarkers', [])
                ],
                'isTruncated': page['IsTruncated'],
            })
        return pages

    out['listed'] = listing(2)

    # Every version by id, and the latest without one.
    def get(key, version_id=None):
        r = s3.get_object(Bucket=vb, Key=key, **({'VersionId': version_id} if version_id else {}))
        return {'versionId': r.get('VersionId'), 'sha256': sha256(r['Body'].read())}

    out['byId'] = {v: get(k, v) for k, ids in (('doc.txt', doc), ('other.bin', other)) for v in ids}
    out['latest'] = get('doc.txt')

    # A plain delete writes a delete marker: the key reads as absent, the marker by id as 405.
    d = s3.delete_object(Bucket=vb, Key='doc.txt')
    marker = d.get('VersionId')
    out['markerDelete'] = {'deleteMarker': d.get('DeleteMarker'), 'versionId': marker}
    out['afterMarker'] = {
        'get': client_error(lambda: s3.get_object(Bucket=vb, Key='doc.txt')),
        'getMarker': client_error(lambda: s3.get_object(Bucket=vb, Key='doc.txt', VersionId=marker)),
        'oldById': get('doc.txt', doc[0]),
    }
    out['listedWithMarker'] = listing(1000)

    # Deleting the marker by id brings the previous version back.
    d = s3.delete_object(Bucket=vb, Key='doc.txt', VersionId=marker)
    out['markerRemoved'] = {'deleteMarker': d.get('DeleteMarker'), 'versionId': d.get('VersionId')}
    out['afterMarkerRemoved'] = get('doc.txt')
    # Deleting the latest version by id makes the one before it the latest.
    d = s3.delete_object(Bucket=vb, Key='doc.txt', VersionId=doc[2])
    out['latestRemoved'] = {'deleteMarker': d.get('DeleteMarker'), 'versionId': d.get('VersionId')}
    out['afterLatestRemoved'] = get('doc.txt')
    out['removedById'] = client_error(lambda: s3.get_object(Bucket=vb, Key='doc.txt', VersionId=doc[2]))

    # delete_objects: one version by id, and a delete marker.
    r = s3.delete_objects(Bucket=vb, Delete={'Objects': [{'Key': 'other.bin', 'VersionId': other[0]}, {'Key': 'doc.txt'}]})
    out['deleteObjects'] = {
        'deleted': sorted(
            (
                {k: e[k] for k in ('Key', 'VersionId', 'DeleteMarker', 'DeleteMarkerVersionId') if k in e}
                for e in r.get('Deleted', [])
            ),
            key=lambda e: e['Key'],
        ),
        'errors': r.get('Errors', []),
    }
    out['final'] = listing(1000)
    out['finalOther'] = get('other.bin')
    return out


def case_versioning_suspended(s3, bucket, work):
    """The null version: written before versioning, replaced while Suspended, by a put and by a marker."""
    vb = bucket + '-suspended'
    s3.create_bucket(Bucket=vb)
    out = {}

    def listing():
        r = s3.list_object_versions(Bucket=vb)
        return {
            'versions': [{'versionId': v['VersionId'], 'isLatest': v['IsLatest'], 'size': v['Size']} for v in r.get('Versions', [])],
            'markers': [{'versionId': m['VersionId'], 'isLatest': m['IsLatest']} for m in r.get('DeleteMarkers', [])],
        }

    r = s3.put_object(Bucket=vb, Key='k', Body=b'before versioning')
    out['unversionedPutVersionId'] = r.get('VersionId')
    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={'Status': 'Enabled'})
    out['v1'] = s3.put_object(Bucket=vb, Key='k', Body=b'enabled one').get('VersionId')
    out['afterEnable'] = listing()
    out['oldNull'] = sha256(s3.get_object(Bucket=vb, Key='k', VersionId='null')['Body'].read())

    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={'Status': 'Suspended'})
    out['statusSuspended'] = s3.get_bucket_versioning(Bucket=vb).get('Status')
    out['suspendedPutVersionId'] = s3.put_object(Bucket=vb, Key='k', Body=b'suspended write').get('VersionId')
    out['afterSuspendedPut'] = listing()
    got = s3.get_object(Bucket=vb, Key='k', VersionId='null')
    out['nullNow'] = {'versionId': got.get('VersionId'), 'body': got['Body'].read().decode()}

    d = s3.delete_object(Bucket=vb, Key='k')
    out['suspendedDelete'] = {'deleteMarker': d.get('DeleteMarker'), 'versionId': d.get('VersionId')}
    out['afterSuspendedDelete'] = listing()

    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={'Status': 'Enabled'})
    out['v2'] = s3.put_object(Bucket=vb, Key='k', Body=b'enabled two').get('VersionId')
    out['afterReenable'] = listing()
    out['statusEnabled'] = s3.get_bucket_versioning(Bucket=vb).get('Status')
    out['mfaDelete'] = client_error(
        lambda: s3.put_bucket_versioning(
            Bucket=vb, MFA='123456 654321', VersioningConfiguration={'Status': 'Enabled', 'MFADelete': 'Enabled'}
        )
    )
    return out


CASES = {
    'transfer': case_transfer,
    'paginate': case_paginate,
    'copy': case_copy,
    'delete_objects': case_delete_objects,
    'head_metadata': case_head_metadata,
    'presigned_get': case_presigned_get,
    'presigned_post': case_presigned_post,
    'presigned_post_policy': case_presigned_post_policy,
    'versioning': case_versioning,
    'versioning_suspended': case_versioning_suspended,
}


def main():
    case, bucket, work = sys.argv[1], sys.argv[2], sys.argv[3]
    s3 = client()
    ensure_bucket(s3, bucket)
    result = CASES[case](s3, bucket, work)
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
