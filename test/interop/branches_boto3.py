#!/usr/bin/python3
"""Debian's boto3 on branch aliases (issue 15), for branches-clients.test.ts.

usage: branches_boto3.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET BRANCH TAG

Writes to BUCKET--BRANCH, reads and lists it, reads through the read-only
tag alias BUCKET--TAG and tries to write there (the 403 as boto3 reports
it), fetches presigned GETs (SigV4 and SigV2, path- and virtual-host style)
with urllib, and prints what it observed as JSON; the test asserts on it.
"""
import hashlib
import json
import socket
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access_key, secret_key, bucket, branch, tag = sys.argv[1:7]
dev = f'{bucket}--{branch}'
frozen = f'{bucket}--{tag}'
common = dict(
    endpoint_url=endpoint,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    region_name='us-east-1',
)


def client(signature_version, style='path'):
    return boto3.client(
        's3',
        config=Config(signature_version=signature_version, s3={'addressing_style': style}, retries={'max_attempts': 1}),
        **common,
    )


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch(url, method='GET'):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req) as res:
            return {'status': res.status, 'body': res.read().decode()}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'body': e.read().decode()}


def error_of(fn):
    try:
        fn()
    except ClientError as e:
        return {
            'code': e.response['Error']['Code'],
            'status': e.response['ResponseMetadata']['HTTPStatusCode'],
            'message': e.response['Error'].get('Message', ''),
        }
    return None


out = {}
s3 = client('s3v4')

# Writes land on the branch.
s3.put_object(Bucket=dev, Key='boto3/new.txt', Body=b'written by boto3 on the branch')
s3.put_object(Bucket=dev, Key='seed.txt', Body=b'seed changed by boto3')
out['devNew'] = s3.get_object(Bucket=dev, Key='boto3/new.txt')['Body'].read().decode()
out['devSeed'] = s3.get_object(Bucket=dev, Key='seed.txt')['Body'].read().decode()
out['devShared'] = s3.get_object(Bucket=dev, Key='shared/a.txt')['Body'].read().decode()
out['devList'] = [o['Key'] for o in s3.list_objects_v2(Bucket=dev).get('Contents', [])]
pages = s3.get_paginator('list_objects_v2').paginate(Bucket=dev, PaginationConfig={'PageSize': 1})
out['devPaged'] = [o['Key'] for p in pages for o in p.get('Contents', [])]
out['devVersions'] = [
    [v['Key'], v['IsLatest']] for v in s3.list_object_versions(Bucket=dev, Prefix='seed.txt').get('Versions', [])
]

# The tag is read-only: reads work, writes and deletes are 403.
out['tagSeed'] = s3.get_object(Bucket=frozen, Key='seed.txt')['Body'].read().decode()
out['tagList'] = [o['Key'] for o in s3.list_objects_v2(Bucket=frozen).get('Contents', [])]
out['tagPut'] = error_of(lambda: s3.put_object(Bucket=frozen, Key='boto3/refused.txt', Body=b'no'))
out['tagDelete'] = error_of(lambda: s3.delete_object(Bucket=frozen, Key='seed.txt'))
out['tagMissing'] = error_of(lambda: s3.get_object(Bucket=frozen, Key='boto3/new.txt'))

# Presigned GETs: SigV4 and SigV2, on the branch and on the tag.
v4 = s3.generate_presigned_url('get_object', Params={'Bucket': dev, 'Key': 'boto3/new.txt'}, ExpiresIn=600)
out['v4Url'] = v4
out['v4'] = fetch(v4)
out['v4Tag'] = fetch(s3.generate_presigned_url('get_object', Params={'Bucket': frozen, 'Key': 'seed.txt'}, ExpiresIn=600))
v2client = client('s3')
v2 = v2client.generate_presigned_url('get_object', Params={'Bucket': dev, 'Key': 'seed.txt'}, ExpiresIn=600)
out['v2Url'] = v2
out['v2'] = fetch(v2)
out['v2Tag'] = fetch(v2client.generate_presigned_url('get_object', Params={'Bucket': frozen, 'Key': 'seed.txt'}, ExpiresIn=600))
# A presigned PUT to the tag is refused too.
put_url = s3.generate_presigned_url('put_object', Params={'Bucket': frozen, 'Key': 'boto3/by-url.txt'}, ExpiresIn=600)
out['v4TagPut'] = fetch(put_url, 'PUT')

# SigV2 header-signed writes and reads on the branch.
v2client.put_object(Bucket=dev, Key='boto3/v2.txt', Body=b'sigv2 on the branch')
out['v2Get'] = v2client.get_object(Bucket=dev, Key='boto3/v2.txt')['Body'].read().decode()
out['v2TagPut'] = error_of(lambda: v2client.put_object(Bucket=frozen, Key='boto3/v2-refused.txt', Body=b'no'))

# Virtual-host style (dev alias as the first label of bucket.localhost). `*.localhost` need not resolve
# here, so name resolution alone is pointed at the loopback address; the Host header stays as is.
_getaddrinfo = socket.getaddrinfo


def loopback_for_localhost(host, *args, **kwargs):
    return _getaddrinfo('127.0.0.1' if isinstance(host, str) and host.endswith('.localhost') else host, *args, **kwargs)


socket.getaddrinfo = loopback_for_localhost
local = endpoint.replace('127.0.0.1', 'localhost')
vhost = boto3.client(
    's3',
    config=Config(signature_version='s3v4', s3={'addressing_style': 'virtual'}, retries={'max_attempts': 1}),
    **{**common, 'endpoint_url': local},
)
seen_hosts = []
vhost.meta.events.register('before-send.s3', lambda request, **_: seen_hosts.append(request.url))
vhost.put_object(Bucket=dev, Key='boto3/vhost.txt', Body=b'virtual host on the branch')
out['vhostGet'] = vhost.get_object(Bucket=dev, Key='boto3/vhost.txt')['Body'].read().decode()
out['vhostTagPut'] = error_of(lambda: vhost.put_object(Bucket=frozen, Key='boto3/vhost-refused.txt', Body=b'no'))
out['vhostUrls'] = seen_hosts
vhost_url = vhost.generate_presigned_url('get_object', Params={'Bucket': dev, 'Key': 'boto3/vhost.txt'}, ExpiresIn=600)
out['vhostPresignedUrl'] = vhost_url
out['vhostPresigned'] = fetch(vhost_url)

print(json.dumps(out))
