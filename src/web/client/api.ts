/** HTTP access to the asr-trainer API from the page: the token, JSON bodies and the API's error shape. */

const TOKEN_KEY = 'asr-trainer.token';

/** An API answer that was not 2xx, carrying the server's `message` (the guide's texts) and `code`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A page served under a prefix (a reverse proxy) still reaches its own server's API. */
export function apiUrl(path: string): URL {
  return new URL(path.replace(/^\//, ''), new URL('.', location.href));
}

export async function apiRequest<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the server (${(err as Error).message})`);
  }
  const text = await response.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  if (!response.ok) {
    const payload = (json ?? {}) as { message?: string; code?: string; error?: string };
    const message = payload.message || payload.error || text || response.statusText;
    throw new ApiError(response.status, message, payload.code);
  }
  return json as T;
}
