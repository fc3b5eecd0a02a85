"""Debian's boto3 speaking SigV2 to Anvil, for sigv2.test.ts.

Header-signed requests through Config(signature_version='s3'), the default
presigner (SigV2 in Debian's botocore) and generate_presigned_post (policy
v2). Prints what it observed as JSON; the test asserts on it.

usage: sigv2_boto3.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET
"""
import hashlib
import json
import os
import socket
import sys
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, access_key, secret_key, bucket = sys.argv[1:5]
common = dict(
    endpoint_url=endpoint,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    region_name='us-east-1',
)
v2 = boto3.client('s3', config=Config(signature_version='s3', s3={'addressing_style': 'path'}), **common)
schemes = []


def record_scheme(request, **_):
    auth = request.headers.get('Authorization')
    if auth is not None:
        schemes.append(auth.decode() if isinstance(auth, bytes) else auth)


v2.meta.events.register('before-send.s3', record_scheme)
out = {}

v2.put_object(Bucket=bucket, Key='boto/a b+c.txt', Body=b'hello v2', ContentType='text/plain', Metadata={'who': 'boto3'})
head = v2.head_object(Bucket=bucket, Key='boto/a b+c.txt')
out['head'] = {'length': head['ContentLength'], 'type': head['ContentType'], 'meta': head['Metadata']}
out['get'] = v2.get_object(Bucket=bucket, Key='boto/a b+c.txt')['Body'].read().decode()
v2.put_object_tagging(Bucket=bucket, Key='boto/a b+c.txt', Tagging={'TagSet': [{'Key': 'k', 'Value': 'v'}]})
out['tags'] = v2.get_object_tagging(Bucket=bucket, Key='boto/a b+c.txt')['TagSet']

# A two-part multipart upload: uploads, partNumber and uploadId are signed sub-resources.
src = os.urandom(6 * 1024 * 1024)
work = os.environ['HOME']
with open(os.path.join(work, 'multi.bin'), 'wb') as f:
    f.write(src)
v2.upload_file(
    os.path.join(work, 'multi.bin'), bucket, 'boto/multi.bin',
    Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, use_threads=False),
)
multi = v2.get_object(Bucket=bucket, Key='boto/multi.bin')
out['multiSha256'] = hashlib.sha256(multi['Body'].read()).hexdigest()
out['multiSrcSha256'] = hashlib.sha256(src).hexdigest()
out['multiEtag'] = multi['ETag']

out['listed'] = [o['Key'] for o in v2.list_objects_v2(Bucket=bucket, Prefix='boto/')['Contents']]
out['listedV1'] = [o['Key'] for o in v2.list_objects(Bucket=bucket, Prefix='boto/')['Contents']]
out['versioning'] = v2.get_bucket_versioning(Bucket=bucket).get('Status', 'Off')
deleted = v2.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': k} for k in out['listed']]})
out['deleted'] = sorted(d['Key'] for d in deleted.get('Deleted', []))
out['afterDelete'] = [o['Key'] for o in v2.list_objects_v2(Bucket=bucket, Prefix='boto/').get('Contents', [])]

# Virtual-host-style (bucket.localhost): SigV2 signs /bucket/key whatever the Host. `*.localhost` need not
# resolve here, so name resolution alone is pointed at the loopback address; the Host header stays as is.
_getaddrinfo = socket.getaddrinfo


def loopback_for_localhost(host, *args, **kwargs):
    return _getaddrinfo('127.0.0.1' if isinstance(host, str) and host.endswith('.localhost') else host, *args, **kwargs)


socket.getaddrinfo = loopback_for_localhost
local = endpoint.replace('127.0.0.1', 'localhost')
vhost = boto3.client('s3', config=Config(signature_version='s3', s3={'addressing_style': 'virtual'}), **{**common, 'endpoint_url': local})
vhost.meta.events.register('before-send.s3', record_scheme)
vhost.put_object(Bucket=bucket, Key='vhost/x y.txt', Body=b'virtual host')
vhost.put_object_tagging(Bucket=bucket, Key='vhost/x y.txt', Tagging={'TagSet': [{'Key': 'vh', 'Value': '1'}]})
out['vhostGet'] = vhost.get_object(Bucket=bucket, Key='vhost/x y.txt')['Body'].read().decode()
out['vhostListed'] = [o['Key'] for o in vhost.list_objects_v2(Bucket=bucket, Prefix='vhost/')['Contents']]
vhost_default = boto3.client('s3', config=Config(s3={'addressing_style': 'virtual'}), **{**common, 'endpoint_url': local})
vhost_url = vhost_default.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'vhost/x y.txt'}, ExpiresIn=600)
out['vhostUrl'] = vhost_url
with urllib.request.urlopen(vhost_url) as res:
    out['vhostPresignedBody'] = res.read().decode()
vhost.delete_object(Bucket=bucket, Key='vhost/x y.txt')
out['schemes'] = [s.split(' ', 1)[0] for s in schemes]

# The default client: no signature_version, so Debian's botocore presigns with SigV2.
default = boto3.client('s3', config=Config(s3={'addressing_style': 'path'}), **common)
default.put_object(Bucket=bucket, Key='boto/presigned.txt', Body=b'presigned body')
url = default.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'boto/presigned.txt'}, ExpiresIn=600)
out['presignedGet'] = url
with urllib.request.urlopen(url) as res:
    out['presignedGetBody'] = res.read().decode()
put_url = default.generate_presigned_url(
    'put_object', Params={'Bucket': bucket, 'Key': 'boto/put-by-url.txt', 'ContentType': 'text/plain'}, ExpiresIn=600
)
req = urllib.request.Request(put_url, data=b'uploaded through a presigned URL', method='PUT', headers={'Content-Type': 'text/plain'})
with urllib.request.urlopen(req) as res:
    out['presignedPutStatus'] = res.status

out['post'] = default.generate_presigned_post(bucket, 'boto/posted.txt', ExpiresIn=600)
print(json.dumps(out))
