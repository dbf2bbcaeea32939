/**
 * A tiny non-browser HTTP client for the documented contract (kiosks and apps do the same): fetch
 * with manual redirects and a cookie jar that honours cookie paths and deletions.
 */
interface Cookie {
  name: string;
  value: string;
  path: string;
}

export class CookieJar {
  private cookies: Cookie[] = [];

  store(setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.trim().split('=');
        if (key.toLowerCase() === 'path') path = val;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
        if (key.toLowerCase() === 'expires' && Date.parse(val) < Date.now()) expired = true;
      }
      this.cookies = this.cookies.filter((cookie) => !(cookie.name === name && cookie.path === path));
      if (!expired && value !== '') this.cookies.push({ name, value, path });
    }
  }

  header(pathname: string): string {
    return this.cookies
      .filter((cookie) => pathname === cookie.path || pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`) || cookie.path === '/')
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }
}

export interface Response {
  status: number;
  headers: Headers;
  location: string | undefined;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export class HttpClient {
  readonly jar = new CookieJar();
  readonly base: string;
  /** Sent with every request (e.g. X-Forwarded-For to play several client addresses behind a trusted proxy). */
  readonly headers: Record<string, string>;

  constructor(base: string, headers: Record<string, string> = {}) {
    this.base = base;
    this.headers = headers;
  }

  async request(pathOrUrl: string, init: RequestInit & { accept?: string } = {}): Promise<Response> {
    const url = new URL(pathOrUrl, this.base);
    const headers = new Headers({ ...this.headers, ...Object.fromEntries(new Headers(init.headers)) });
    const cookie = this.jar.header(url.pathname);
    if (cookie) headers.set('cookie', cookie);
    headers.set('accept', init.accept ?? 'application/json');
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(response.headers.getSetCookie());
    const text = await response.text();
    const location = response.headers.get('location') ?? undefined;
    return {
      status: response.status,
      headers: response.headers,
      location: location ? new URL(location, url).href : undefined,
      text,
      json: <T,>() => JSON.parse(text) as T,
    };
  }

  get(path: string, accept?: string) {
    return this.request(path, { method: 'GET', accept });
  }

  postForm(path: string, fields: Record<string, string>, accept?: string) {
    return this.request(path, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      accept,
    });
  }

  postFrames(path: string, fields: Record<string, string>, frames: Array<{ data: Uint8Array; type?: string }>, accept?: string) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    frames.forEach((frame, index) => form.append('frame', new Blob([frame.data], { type: frame.type ?? 'image/jpeg' }), `frame-${index}.jpg`));
    return this.request(path, { method: 'POST', body: form, accept });
  }

  /** Follows same-origin redirects until one leaves the IdP (or a page is returned). */
  async follow(start: Response): Promise<Response> {
    let response = start;
    for (let hops = 0; hops < 10 && response.location && response.location.startsWith(this.base); hops += 1) {
      response = await this.get(response.location);
    }
    return response;
  }
}
