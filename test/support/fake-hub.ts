/**
 * A local stand-in for the Hugging Face hub on 127.0.0.1 (port 0), with a second server as its "CDN": the revision
 * API, the paged tree API (`Link: <…>; rel="next"`), and `resolve`, which serves small files itself and redirects
 * LFS files to the CDN (another origin, as the real hub does). Both answer Range requests and record every request
 * (path, Range, Authorization). A model can require a token; `faults` drop or stall a download after some bytes or
 * serve other bytes than the file list's sha256 describes.
 */
import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface HubFileSpec {
  readonly path: string;
  readonly content: Buffer;
  /** Stored in LFS (the tree lists its sha256; downloads redirect to the CDN). */
  readonly lfs?: boolean;
}

export interface HubModelSpec {
  readonly id: string;
  readonly files: HubFileSpec[];
  /** Every request about this model must carry `Authorization: Bearer <token>`; else 401 as for a private repo. */
  readonly token?: string;
  /** Branches and tags → commit (default { main: <a fixed commit> }). */
  readonly refs?: Record<string, string>;
}

export interface HubRequest {
  readonly server: 'hub' | 'cdn';
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
}

export interface DropFault {
  readonly path: string;
  /** Drop a download of this file when the requested range covers this byte offset, after sending the bytes before it. */
  readonly atByte: number;
  /** How many downloads to drop (default: all). */
  times?: number;
  /** Go silent and keep the connection open instead of closing it (a stalled download). */
  readonly stall?: boolean;
}

export interface FakeHub {
  readonly url: string;
  readonly cdnUrl: string;
  readonly requests: HubRequest[];
  readonly faults: { drops: DropFault[]; corrupt: Set<string> };
  /** Downloads of file bodies (resolve on the hub, blobs on the CDN) for one path. */
  downloads(path?: string): HubRequest[];
  close(): Promise<void>;
}

export const MAIN_COMMIT = '0123456789abcdef0123456789abcdef01234567';

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function gitOid(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function lfsPointer(f: HubFileSpec): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\nsize ${f.content.length}\n`);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

export async function startFakeHub(models: HubModelSpec[], options: { pageSize?: number } = {}): Promise<FakeHub> {
  const pageSize = options.pageSize ?? 2;
  const requests: HubRequest[] = [];
  const faults = { drops: [] as DropFault[], corrupt: new Set<string>() };
  const blobs = new Map<string, { model: HubModelSpec; file: HubFileSpec }>();
  for (const model of models) for (const file of model.files) if (file.lfs) blobs.set(sha256(file.content), { model, file });

  const record = (server: 'hub' | 'cdn', req: IncomingMessage): void => {
    requests.push({
      server,
      path: decodeURIComponent((req.url ?? '').split('?')[0]),
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
  };

  const fail = (res: ServerResponse, status: number, code?: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}) });
    res.end(JSON.stringify({ error: code ?? 'error' }));
  };

  /** Serves `content` (or its Range), dropping the connection where a fault says so. */
  const serve = (req: IncomingMessage, res: ServerResponse, path: string, original: Buffer): void => {
    const content = faults.corrupt.has(path) ? Buffer.from(original.map((b, i) => (i === 0 ? b ^ 0xff : b))) : original;
    let start = 0;
    let end = content.length - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (req.headers.range && !m) return fail(res, 416);
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), content.length - 1) : content.length - 1;
      if (start > end) return fail(res, 416);
    }
    const headers = { 'content-length': String(end - start + 1), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    res.writeHead(m ? 206 : 200, m ? { ...headers, 'content-range': `bytes ${start}-${end}/${content.length}` } : headers);
    const drop = faults.drops.find((d) => d.path === path && d.atByte >= start && d.atByte <= end && (d.times ?? 1) > 0);
    if (drop) {
      if (drop.times !== undefined) drop.times--;
      res.write(content.subarray(start, drop.atByte), () => (drop.stall ? undefined : res.socket?.destroy()));
      return;
    }
    res.end(content.subarray(start, end + 1));
  };

  const cdn = createServer((req, res) => {
    record('cdn', req);
    const sha = /^\/blobs\/([0-9a-f]{64})$/.exec((req.url ?? '').split('?')[0])?.[1];
    const blob = sha ? blobs.get(sha) : undefined;
    if (!blob) return fail(res, 404);
    serve(req, res, blob.file.path, blob.file.content);
  });
  const cdnUrl = await listen(cdn);

  const hub = createServer((req, res) => {
    record('hub', req);
    const url = new URL(req.url ?? '/', 'http://hub');
    const path = decodeURIComponent(url.pathname);
    const auth = req.headers.authorization;
    const api = /^\/api\/models\/(.+?)\/(revision|tree)\/([^/]+)$/.exec(path);
    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const id = api?.[1] ?? resolve?.[1];
    const model = models.find((mm) => mm.id === id);
    // Like the real hub: a repo it cannot show is 401 without a token, 404 with one.
    if (!model) return fail(res, auth ? 404 : 401, 'RepoNotFound');
    if (model.token && auth !== `Bearer ${model.token}`) return fail(res, 401, 'RepoNotFound');
    const refs = model.refs ?? { main: MAIN_COMMIT };
    const rev = api?.[3] ?? (resolve?.[2] as string);
    const commit = /^[0-9a-f]{40}$/.test(rev) && Object.values(refs).includes(rev) ? rev : refs[rev];
    if (!commit) return fail(res, 404, 'RevisionNotFound');
    if (api?.[2] === 'revision') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ id: model.id, sha: commit }));
    }
    if (api) {
      const dirs = [...new Set(model.files.flatMap((f) => (f.path.includes('/') ? [f.path.slice(0, f.path.lastIndexOf('/'))] : [])))];
      const entries = [
        ...dirs.map((d) => ({ type: 'directory', oid: '0'.repeat(40), size: 0, path: d })),
        ...model.files.map((f) => ({
          type: 'file',
          oid: gitOid(f.lfs ? lfsPointer(f) : f.content),
          size: f.content.length,
          path: f.path,
          ...(f.lfs ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: lfsPointer(f).length } } : {}),
        })),
      ];
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = entries.slice(cursor, cursor + pageSize);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (cursor + pageSize < entries.length) {
        // The real hub links to huggingface.co even behind a mirror; the client must stay on the hub it was given.
        headers.link = `<https://huggingface.co${url.pathname}?recursive=true&cursor=${cursor + pageSize}>; rel="next"`;
      }
      res.writeHead(200, headers);
      return res.end(JSON.stringify(page));
    }
    if (resolve) {
      const file = model.files.find((f) => f.path === resolve[3]);
      if (!file) return fail(res, 404, 'EntryNotFound');
      if (file.lfs) {
        res.writeHead(302, { location: `${cdnUrl}/blobs/${sha256(file.content)}?signature=fake` });
        return res.end();
      }
      return serve(req, res, file.path, file.content);
    }
    fail(res, 404);
  });
  const url = await listen(hub);

  const close = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    url,
    cdnUrl,
    requests,
    faults,
    downloads: (p) =>
      requests.filter((r) => {
        if (r.server === 'cdn') return p === undefined || blobs.get(r.path.slice('/blobs/'.length))?.file.path === p;
        const m = /\/resolve\/[^/]+\/(.+)$/.exec(r.path);
        return m !== null && (p === undefined || m[1] === p);
      }),
    close: async () => {
      await close(hub);
      await close(cdn);
    },
  };
}
