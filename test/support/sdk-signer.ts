/** The AWS SDK's own SigV4 signer, configured as @aws-sdk/client-s3 configures it: the reference our verifier must agree with. */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export function sdkSigner(credentials: { accessKeyId: string; secretAccessKey: string }, region = 'us-east-1'): SignatureV4 {
  return new SignatureV4({ service: 's3', region, sha256: Sha256, uriEscapePath: false, applyChecksum: true, credentials });
}
