// Mints the JWTs the auth tests send, with nothing but node:crypto: HS256 with a secret, RS256
// with a key pair made here at test time, and the forgeries a server must refuse (`alg: none`,
// HS256 "signed" with the RS256 public key). See docs/AUTH.md.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const b64url = (data) => Buffer.from(data).toString('base64url');

/** Seconds since the Unix epoch, plus `offset`. */
function epoch(offset = 0) {
  return Math.floor(Date.now() / 1000) + offset;
}

function encode(header, claims) {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
}

/** HS256 token over `claims` with `secret` (a string or Buffer). */
function hs256(claims, secret) {
  const signed = encode({ alg: 'HS256', typ: 'JWT' }, claims);
  const sig = crypto.createHmac('sha256', secret).update(signed).digest('base64url');
  return `${signed}.${sig}`;
}

/** RS256 token over `claims` with a private key (KeyObject or PEM). */
function rs256(claims, privateKey) {
  const signed = encode({ alg: 'RS256', typ: 'JWT' }, claims);
  const sig = crypto.sign('sha256', Buffer.from(signed), privateKey).toString('base64url');
  return `${signed}.${sig}`;
}

/** An unsigned token (`alg: none`), as attackers send it. */
function none(claims) {
  return `${encode({ alg: 'none', typ: 'JWT' }, claims)}.`;
}

/**
 * A fresh RSA key pair: { privateKey, publicPem, publicKeyFile, cleanup() }; the public key is
 * written to a temp file for `--jwt-public-key`.
 */
function rsaPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatroom-jwt-'));
  const publicKeyFile = path.join(dir, 'public.pem');
  fs.writeFileSync(publicKeyFile, publicPem);
  return {
    privateKey,
    publicPem,
    publicKeyFile,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** A throwaway RSA private key (for tokens signed by a key the server does not know). */
function otherPrivateKey() {
  return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

module.exports = { epoch, hs256, rs256, none, rsaPair, otherPrivateKey };
