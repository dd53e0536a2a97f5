// The REST client of the console: bearer token from sessionStorage, JSON in and out, and errors that keep
// the API's 422 details so forms can show each message next to its field.
const TOKEN_KEY = "duplex.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.summary(status, body));
    this.status = status;
    this.body = body;
  }

  static summary(status, body) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
    return `HTTP ${status}`;
  }

  // FastAPI's 422 entries: {loc: ["body", field, ...], msg, ctx?}.
  get fieldErrors() {
    return this.status === 422 && Array.isArray(this.body?.detail) ? this.body.detail : [];
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) =>
  value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY);

export async function api(path, { method = "GET", body, raw = false, headers = {} } = {}) {
  const allHeaders = { ...headers };
  const bearer = token();
  if (bearer) allHeaders.Authorization = `Bearer ${bearer}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    allHeaders["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(`/api/v1${path}`, { method, headers: allHeaders, body: payload });
  if (raw && response.ok) return response;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Every row of a list endpoint, page by page (the API caps a page at 500).
export async function listAll(path, params = {}) {
  const rows = [];
  for (let offset = 0; ; offset += 500) {
    const query = new URLSearchParams({ ...params, limit: "500", offset: String(offset) });
    const page = await api(`${path}?${query}`);
    rows.push(...page.items);
    if (rows.length >= page.total || page.items.length === 0) return rows;
  }
}
