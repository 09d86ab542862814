// @ts-check
'use strict'
// The trip-export registry's HTTP API (shared/seeds/trip-export.md) on Express, over an
// export-core Engine:
//
//   POST   /v3/export                 export.create    201 + Location, the job
//   GET    /v3/export                 export.list      the caller's jobs (?status=&limit=&cursor=)
//   GET    /v3/export/:id             export.read      one job
//   GET    /v3/export/:id/status      export.status    status, progress, percent, error
//   GET    /v3/export/:id/download    export.download  the file, streamed
//   DELETE /v3/export/:id             export.cancel    pending/running: cancel, 200 + the job
//                                     export.delete    finished: delete job and file, 204
//
// Authentication is `Authorization: Bearer <token>`, `tokens` mapping each token to its
// principal. Errors are `application/problem+json` (RFC 9457): {type, title, status, detail,
// code}, `code` being the engine's (`EXPORT_NOT_FOUND`, ...) or this layer's own. Someone
// else's job (a colleague's, or the same user id in another organisation) is a 404, exactly as
// an unknown id: the engine never tells them apart.

const { createHash } = require('node:crypto')
const { STATUS_CODES } = require('node:http')
const { pipeline } = require('node:stream/promises')
const express = require('express')

/** @typedef {import('../..').Engine} Engine */
/** @typedef {import('../..').Principal} Principal */
/** @typedef {import('../..').ListQuery} ListQuery */
/** @typedef {import('../..').JobStatusName} JobStatusName */
/** @typedef {import('express').Request} Request */
/** @typedef {import('express').Response} Response */
/** @typedef {import('express').NextFunction} NextFunction */

/**
 * What a token stands for: the engine's principal. `scopes` is a list (or a comma- or
 * space-separated string) of the core's dotted scope names (`export.create`, ...) and of the
 * groups `READ_EXPORTS` / `WRITE_EXPORTS`. A principal without `scopes` holds none: unlike the
 * engine, which gives a principal without `scopes` every export scope, this layer denies by
 * default.
 * @typedef {object} TokenPrincipal
 * @property {string} userId
 * @property {string | null} [organisation]
 * @property {string | string[]} [scopes]
 * @property {number | null} [operator]
 * @property {string | null} [territory]
 */

/**
 * Where the app writes what happens (default: `console`).
 * @typedef {object} Logger
 * @property {(message: string, meta?: Record<string, unknown>) => void} info
 * @property {(message: string, meta?: Record<string, unknown>) => void} warn
 * @property {(message: string, meta?: Record<string, unknown>) => void} error
 */

/**
 * @typedef {object} AppOptions
 * @property {Engine} engine
 * @property {Record<string, TokenPrincipal> | Map<string, TokenPrincipal>} tokens token to principal
 * @property {Logger} [logger]
 * @property {string} [bodyLimit] the largest request body (default `64kb`)
 */

/** The core's scopes (export-core/src/principal.rs, `Scope::as_str`). */
const SCOPES = Object.freeze({
  create: 'export.create',
  list: 'export.list',
  read: 'export.read',
  status: 'export.status',
  cancel: 'export.cancel',
  download: 'export.download',
  delete: 'export.delete',
  admin: 'export.admin',
})
/** @type {ReadonlySet<string>} */
const KNOWN_SCOPES = new Set(Object.values(SCOPES))
/** The groups of the catalogue seed (`Scope::READ_EXPORTS`, `Scope::WRITE_EXPORTS`). */
const SCOPE_GROUPS = Object.freeze({
  READ_EXPORTS: [SCOPES.list, SCOPES.read, SCOPES.status, SCOPES.download],
  WRITE_EXPORTS: [SCOPES.create, SCOPES.cancel, SCOPES.delete],
})

/**
 * The HTTP status of each engine error code (export-core/src/error.rs `ExportError::code`,
 * docs/errors.md, with the binding's `INTERNAL`). Retryable failures of the environment are
 * 503; anything not listed is a 500.
 * @type {Readonly<Record<string, number>>}
 */
const STATUS_BY_CODE = Object.freeze({
  EXPORT_UNKNOWN_FIELD: 422,
  EXPORT_MISSING_COLUMN: 422,
  EXPORT_COLUMN_TYPE: 422,
  EXPORT_INVALID_VALUE: 422,
  EXPORT_INVALID_PERIOD: 422,
  EXPORT_INVALID_REQUEST: 422,
  EXPORT_INVALID_INPUT: 422,
  EXPORT_FORBIDDEN: 403,
  EXPORT_NOT_FOUND: 404,
  EXPORT_GONE: 410,
  EXPORT_ALREADY_EXISTS: 409,
  EXPORT_INVALID_STATE: 409,
  EXPORT_LEASE_LOST: 409,
  EXPORT_CANCELLED: 409,
  EXPORT_RATE_LIMITED: 429,
  EXPORT_IO: 503,
  EXPORT_STORE: 503,
  EXPORT_STORAGE: 503,
  EXPORT_NOT_A_REGULAR_FILE: 500,
  EXPORT_ENCODE: 500,
  EXPORT_ARROW: 500,
  EXPORT_SINK_FINISHED: 500,
  EXPORT_CONFIG: 500,
  EXPORT_INTERNAL: 500,
})

const JOB_STATUSES = new Set(['pending', 'running', 'succeeded', 'failed', 'cancelled', 'expired'])
const LIST_PARAMS = ['status', 'limit', 'cursor']

/** An error this layer answers with as it is. */
class HttpProblem extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} detail
   * @param {Record<string, string>} [headers]
   */
  constructor(status, code, detail, headers) {
    super(detail)
    this.status = status
    this.code = code
    this.headers = headers ?? {}
  }
}

/**
 * The `type` URI of a problem: one per code, the core's codes without their `EXPORT_` prefix
 * as in docs/errors.md.
 * @param {string} code
 */
function problemType(code) {
  return `urn:export-core:problem:${code.replace(/^EXPORT_/, '')}`
}

/**
 * Sends `application/problem+json`.
 * @param {Response} res
 * @param {number} status
 * @param {string} code
 * @param {string} detail
 * @param {Record<string, string>} [headers]
 */
function sendProblem(res, status, code, detail, headers) {
  const body = { type: problemType(code), title: STATUS_CODES[status] ?? 'Error', status, detail, code }
  res.status(status)
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value)
  res.setHeader('Content-Type', 'application/problem+json')
  res.setHeader('Cache-Control', 'no-store')
  res.end(JSON.stringify(body))
}

/**
 * A principal's scopes as the core's dotted names, groups expanded.
 * @param {unknown} scopes
 * @param {string} who
 * @returns {string[]}
 */
function expandScopes(scopes, who) {
  if (scopes == null) return []
  /** @type {unknown[]} */
  const names = typeof scopes === 'string' ? scopes.split(/[\s,]+/) : Array.isArray(scopes) ? scopes : [scopes]
  /** @type {Set<string>} */
  const out = new Set()
  for (const name of names) {
    if (name === '') continue
    if (typeof name !== 'string') throw new TypeError(`tokens: the scopes of ${who} must be strings`)
    if (name === 'READ_EXPORTS' || name === 'WRITE_EXPORTS') {
      for (const s of SCOPE_GROUPS[name]) out.add(s)
    } else if (KNOWN_SCOPES.has(name)) {
      out.add(name)
    } else {
      throw new TypeError(
        `tokens: unknown scope \`${name}\` for ${who}; expected one of ${[...KNOWN_SCOPES].join(', ')}, READ_EXPORTS, WRITE_EXPORTS`,
      )
    }
  }
  return [...out]
}

/** @param {string} token */
const tokenKey = (token) => createHash('sha256').update(token).digest('hex')

/**
 * The principals by the SHA-256 of their token (a lookup then reveals nothing about the
 * tokens through its timing), checked once: a bad entry fails at start, not at a request.
 * @param {Record<string, TokenPrincipal> | Map<string, TokenPrincipal>} tokens
 * @returns {Map<string, Principal & { scopes: string[] }>}
 */
function principalsByToken(tokens) {
  if (tokens == null || typeof tokens !== 'object') throw new TypeError('tokens: expected an object of token to principal')
  const entries = tokens instanceof Map ? [...tokens.entries()] : Object.entries(tokens)
  const out = new Map()
  entries.forEach(([token, p], i) => {
    const who = `token #${i + 1}`
    if (typeof token !== 'string' || token.length === 0) throw new TypeError(`tokens: ${who} is empty`)
    if (p == null || typeof p !== 'object' || typeof p.userId !== 'string' || p.userId.trim() === '') {
      throw new TypeError(`tokens: the principal of ${who} needs a non-empty userId`)
    }
    /** @type {Principal & { scopes: string[] }} */
    const principal = { userId: p.userId, organisation: p.organisation ?? null, scopes: expandScopes(p.scopes, `user \`${p.userId}\``) }
    if (p.operator != null) principal.operator = p.operator
    if (p.territory != null) principal.territory = p.territory
    out.set(tokenKey(token), Object.freeze(principal))
  })
  return out
}

/**
 * `attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266).
 * @param {string} fileName
 */
function contentDisposition(fileName) {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(fileName)}`
}

/**
 * The principal `authenticate` found.
 * @param {Response} res
 * @returns {Principal & { scopes: string[] }}
 */
function principalOf(res) {
  return res.locals.principal
}

/**
 * The `:id` of the route (a plain segment: never an array).
 * @param {Request} req
 */
const idOf = (req) => String(req.params.id)

/**
 * A 403 unless the principal holds `scope` (the engine checks it again).
 * @param {Response} res
 * @param {string} scope
 */
function requireScope(res, scope) {
  if (!principalOf(res).scopes.includes(scope)) {
    throw new HttpProblem(403, 'EXPORT_FORBIDDEN', `forbidden: scope \`${scope}\` is required`)
  }
}

/** @param {string} scope */
const needs = (scope) =>
  /** @type {(req: Request, res: Response, next: NextFunction) => void} */
  (_req, res, next) => {
    requireScope(res, scope)
    next()
  }

/**
 * `?status=&limit=&cursor=` as the engine's list query; anything else is refused, so a typo
 * never goes unnoticed.
 * @param {Request['query']} query
 * @returns {ListQuery}
 */
function listQuery(query) {
  /** @type {ListQuery} */
  const out = {}
  for (const [key, value] of Object.entries(query)) {
    if (!LIST_PARAMS.includes(key)) {
      throw new HttpProblem(422, 'EXPORT_INVALID_REQUEST', `invalid \`${key}\`: unknown query parameter, expected one of ${LIST_PARAMS.map((p) => `\`${p}\``).join(', ')}`)
    }
    if (typeof value !== 'string') {
      throw new HttpProblem(422, 'EXPORT_INVALID_REQUEST', `invalid \`${key}\`: give it once, as a plain value`)
    }
    if (key === 'limit') {
      if (!/^[0-9]{1,10}$/.test(value)) throw new HttpProblem(422, 'EXPORT_INVALID_REQUEST', `invalid \`limit\`: \`${value}\` is not a positive integer`)
      out.limit = Number(value)
    } else if (key === 'status') {
      // The engine checks it too; this only keeps the type honest.
      if (!JOB_STATUSES.has(value)) {
        throw new HttpProblem(422, 'EXPORT_INVALID_REQUEST', `invalid \`status\`: \`${value}\`, expected one of ${[...JOB_STATUSES].join(', ')}`)
      }
      out.status = /** @type {JobStatusName} */ (value)
    } else {
      out.cursor = value
    }
  }
  return out
}

/**
 * The problem of an error: this layer's, the body parser's, the engine's, or a 500.
 * @param {unknown} err
 * @returns {{ status: number, code: string, detail: string, headers?: Record<string, string>, internal: boolean }}
 */
function problemOf(err) {
  if (err instanceof HttpProblem) return { status: err.status, code: err.code, detail: err.message, headers: err.headers, internal: false }
  const e = /** @type {{ type?: unknown, status?: unknown, expose?: unknown, code?: unknown, message?: unknown }} */ (err ?? {})
  // body-parser (express.json) errors.
  switch (e.type) {
    case 'entity.parse.failed':
      return { status: 400, code: 'MALFORMED_JSON', detail: `the request body is not valid JSON: ${e.message}`, internal: false }
    case 'entity.too.large':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: String(e.message), internal: false }
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: String(e.message), internal: false }
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    return { status: e.status, code: 'BAD_REQUEST', detail: String(e.message), internal: false }
  }
  if (typeof e.code === 'string' && e.code.startsWith('EXPORT_')) {
    const status = STATUS_BY_CODE[e.code] ?? 500
    // 5xx messages may name paths, URLs or hosts: they go to the log, not to the client.
    const detail = status >= 500 ? 'the export service failed; try again later' : String(e.message)
    return { status, code: e.code, detail, internal: status >= 500 }
  }
  return { status: 500, code: 'INTERNAL', detail: 'internal error', internal: true }
}

/**
 * The Express app of the export API.
 * @param {AppOptions} options
 * @returns {import('express').Express}
 */
function createApp({ engine, tokens, logger = console, bodyLimit = '64kb' }) {
  if (engine == null) throw new TypeError('createApp: `engine` is required')
  const principals = principalsByToken(tokens)
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)

  /** @type {(req: Request, res: Response, next: NextFunction) => void} */
  const authenticate = (req, res, next) => {
    const header = req.get('authorization')
    if (!header) {
      throw new HttpProblem(401, 'UNAUTHENTICATED', 'an `Authorization: Bearer <token>` header is required', {
        'WWW-Authenticate': 'Bearer realm="export"',
      })
    }
    const match = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header)
    const principal = match ? principals.get(tokenKey(match[1])) : undefined
    if (!principal) {
      throw new HttpProblem(401, 'UNAUTHENTICATED', 'the bearer token is missing, malformed or unknown', {
        'WWW-Authenticate': 'Bearer realm="export", error="invalid_token"',
      })
    }
    res.locals.principal = principal
    res.setHeader('Cache-Control', 'no-store')
    next()
  }

  const json = express.json({ limit: bodyLimit, strict: true })

  /** @type {(req: Request, res: Response, next: NextFunction) => void} */
  const jsonBody = (req, res, next) => {
    if (!req.is('application/json')) {
      throw new HttpProblem(415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be the export request as `application/json`')
    }
    json(req, res, next)
  }

  const api = express.Router()
  api.use(authenticate)

  api.post('/', needs(SCOPES.create), jsonBody, async (req, res) => {
    // An object only: the engine would also take a struct's fields as a positional array
    // (serde's sequence form), which no client should rely on.
    if (req.body == null || typeof req.body !== 'object' || Array.isArray(req.body)) {
      throw new HttpProblem(422, 'EXPORT_INVALID_REQUEST', 'invalid `request`: expected a JSON object (the export request)')
    }
    const job = await engine.create(principalOf(res), req.body)
    logger.info('export job created', { jobId: job.id, userId: principalOf(res).userId })
    res.status(201).location(`${req.baseUrl}/${encodeURIComponent(job.id)}`).json(job)
  })

  api.get('/', needs(SCOPES.list), async (req, res) => {
    const query = listQuery(req.query)
    const page = await engine.list(principalOf(res), query)
    if (page.next_cursor) {
      const next = new URLSearchParams({ ...(query.status ? { status: query.status } : {}), ...(query.limit ? { limit: String(query.limit) } : {}), cursor: page.next_cursor })
      res.setHeader('Link', `<${req.baseUrl}?${next}>; rel="next"`)
    }
    res.json(page)
  })

  api.get('/:id', needs(SCOPES.read), async (req, res) => {
    res.json(await engine.get(principalOf(res), idOf(req)))
  })

  api.get('/:id/status', needs(SCOPES.status), async (req, res) => {
    res.json(await engine.status(principalOf(res), idOf(req)))
  })

  api.get('/:id/download', needs(SCOPES.download), async (req, res) => {
    const id = idOf(req)
    const download = await engine.download(principalOf(res), id)
    res.status(200)
    res.setHeader('Content-Type', download.contentType)
    res.setHeader('Content-Length', String(download.size))
    res.setHeader('Content-Disposition', contentDisposition(download.fileName))
    res.setHeader('X-Export-Rows', String(download.rows))
    res.setHeader('X-Export-Sha256', download.sha256)
    // HEAD: the headers only (the engine has audited it as a download all the same).
    if (req.method === 'HEAD') {
      download.destroy()
      res.end()
      return
    }
    try {
      // The pipeline destroys the download (closing its reader) when the client goes away.
      await pipeline(download, res)
    } catch (err) {
      const e = /** @type {{ code?: unknown }} */ (err)
      if (e.code === 'ERR_STREAM_PREMATURE_CLOSE') {
        logger.info('download aborted by the client', { jobId: id, size: download.size, socketBytesWritten: req.socket?.bytesWritten })
      } else {
        // Too late for a problem: cutting the connection tells the client the file is not whole.
        logger.error('download failed mid-stream', { jobId: id, error: String(err) })
        res.destroy()
      }
    }
  })

  api.delete('/:id', async (req, res) => {
    const principal = principalOf(res)
    if (!principal.scopes.includes(SCOPES.cancel) && !principal.scopes.includes(SCOPES.delete)) {
      throw new HttpProblem(403, 'EXPORT_FORBIDDEN', `forbidden: scope \`${SCOPES.cancel}\` or \`${SCOPES.delete}\` is required`)
    }
    const id = idOf(req)
    // Whether to cancel or delete depends on the job's state: read it as the same owner (the
    // engine still checks ownership: someone else's job is a 404), with the status scope of
    // this lookup only.
    const lookup = { ...principal, scopes: [SCOPES.status] }
    for (let attempt = 0; ; attempt++) {
      const { status } = await engine.status(lookup, id)
      if (status === 'pending' || status === 'running') {
        requireScope(res, SCOPES.cancel)
        try {
          const job = await engine.cancel(principal, id)
          logger.info('export job cancelled', { jobId: id, status: job.status, userId: principal.userId })
          res.status(200).json(job)
          return
        } catch (err) {
          // It finished meanwhile: delete it instead, once.
          if (attempt === 0 && /** @type {{ code?: unknown }} */ (err).code === 'EXPORT_INVALID_STATE') continue
          throw err
        }
      }
      requireScope(res, SCOPES.delete)
      await engine.delete(principal, id)
      logger.info('export job deleted', { jobId: id, userId: principal.userId })
      res.status(204).end()
      return
    }
  })

  /**
   * 405 with `Allow` for the other methods of a route.
   * @param {string} allow
   */
  const notAllowed = (allow) =>
    /** @type {(req: Request, res: Response) => void} */
    (_req, res) => sendProblem(res, 405, 'METHOD_NOT_ALLOWED', `allowed: ${allow}`, { Allow: allow })
  api.all('/', notAllowed('GET, HEAD, POST'))
  api.all('/:id', notAllowed('GET, HEAD, DELETE'))
  api.all('/:id/status', notAllowed('GET, HEAD'))
  api.all('/:id/download', notAllowed('GET, HEAD'))

  app.use('/v3/export', api)

  app.use((req, res) => {
    sendProblem(res, 404, 'ROUTE_NOT_FOUND', `no route ${req.method} ${req.path}`)
  })

  /** @type {import('express').ErrorRequestHandler} */
  const onError = (err, req, res, _next) => {
    const problem = problemOf(err)
    if (problem.internal) logger.error('request failed', { method: req.method, path: req.originalUrl, code: problem.code, error: String(err && err.stack ? err.stack : err) })
    if (res.headersSent) {
      res.destroy()
      return
    }
    // A refused body may still be arriving: do not keep the connection for it.
    if (problem.status === 413 || problem.status === 415) res.setHeader('Connection', 'close')
    sendProblem(res, problem.status, problem.code, problem.detail, problem.headers)
  }
  app.use(onError)

  return app
}

module.exports = { createApp, SCOPES, STATUS_BY_CODE, contentDisposition, problemOf }
