import type { Redis } from 'ioredis';
import { KEY_PREFIX } from './redisConnection.js';

/** Bytes and a few named values about them (an image's size, the iteration of a preview). */
export interface Blob {
  readonly bytes: Buffer;
  readonly meta: Readonly<Record<string, number>>;
}

/**
 * Where team mode keeps a job's images: the inputs from the gateway to a worker, previews and results back. Jobs
 * carry only the names, so that the queue stays small and the images can live elsewhere: this interface is what an
 * S3-compatible store (an object with its metadata and an expiry rule) would implement too.
 */
export interface BlobStore {
  /** Stores (or replaces) the blob; it is deleted after ttlMs. */
  put(name: string, blob: Blob, ttlMs: number): Promise<void>;
  get(name: string): Promise<Blob | null>;
  /** The blob's meta without its bytes (a HEAD): enough to know whether a preview is newer than one a client has. */
  meta(name: string): Promise<Blob['meta'] | null>;
  delete(names: readonly string[]): Promise<void>;
}

/** Blobs as Redis hashes (bytes, meta) with an expiry: what a studio's one Redis server can hold for a while. */
export class RedisBlobStore implements BlobStore {
  constructor(private readonly redis: Redis) {}

  private key(name: string): string {
    return `${KEY_PREFIX}:blob:${name}`;
  }

  async put(name: string, blob: Blob, ttlMs: number): Promise<void> {
    const key = this.key(name);
    await this.redis
      .multi()
      .del(key)
      .hset(key, 'bytes', blob.bytes, 'meta', JSON.stringify(blob.meta))
      .pexpire(key, Math.max(1, Math.round(ttlMs)))
      .exec();
  }

  async get(name: string): Promise<Blob | null> {
    const [bytes, meta] = await this.redis.hmgetBuffer(this.key(name), 'bytes', 'meta');
    if (!bytes || !meta) return null;
    return { bytes, meta: JSON.parse(meta.toString('utf8')) as Blob['meta'] };
  }

  async meta(name: string): Promise<Blob['meta'] | null> {
    const meta = await this.redis.hget(this.key(name), 'meta');
    return meta === null ? null : (JSON.parse(meta) as Blob['meta']);
  }

  async delete(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.redis.del(...names.map((name) => this.key(name)));
  }
}
