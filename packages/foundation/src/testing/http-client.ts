/**
 * The test client for ShopCo's API, shared by the monolith's and the extracted
 * services' tests, so the same requests are sent the same way to either side.
 */

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  /** Sent as JSON with `content-type: application/json`. */
  body?: unknown;
  /** Sent as it is, for bodies that are not JSON; set the content type in `headers`. */
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** A small JSON client over real HTTP, for the tests of every service that speaks ShopCo's API. */
export function client(baseUrl: string) {
  return async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    Object.assign(headers, options.headers);
    const body = options.body !== undefined ? JSON.stringify(options.body) : options.rawBody;
    const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  };
}

export type Call = ReturnType<typeof client>;

export function errorCode(res: JsonResponse): string | undefined {
  return (res.body as { error?: { code?: string } } | null)?.error?.code;
}

let counter = 0;

/** Registers a user and logs them in; returns the user and a bearer token. */
export async function signUp(
  call: Call,
  overrides: Partial<{ email: string; password: string; name: string }> = {},
): Promise<{ id: number; email: string; token: string; password: string }> {
  counter += 1;
  const input = {
    email: `user${counter}.${process.pid}@example.com`,
    password: 'correct horse battery',
    name: `User ${counter}`,
    ...overrides,
  };
  const registered = await call<{ id: number }>('POST', '/api/users/register', { body: input });
  if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(registered.body)}`);
  const login = await call<{ token: string }>('POST', '/api/users/login', {
    body: { email: input.email, password: input.password },
  });
  if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
  return { id: registered.body.id, email: input.email, token: login.body.token, password: input.password };
}
