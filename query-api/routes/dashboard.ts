/**
 * The dashboard: GET / redirects to /dashboard, which serves a static page, its hand-written
 * script and style (query-api/dashboard/), and uPlot's files from node_modules. No build step
 * and no server besides this API: the page reads the /v1 routes from the browser. Files are read
 * once at start-up, so a missing file fails the start, not a user's page load.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'

const here = dirname(fileURLToPath(import.meta.url))
const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot'))

const ASSETS: ReadonlyArray<{ path: string; file: string; type: string }> = [
  { path: '/dashboard', file: join(here, '../dashboard/index.html'), type: 'text/html; charset=utf-8' },
  { path: '/dashboard/app.js', file: join(here, '../dashboard/app.js'), type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/charts.js', file: join(here, '../dashboard/charts.js'), type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/app.css', file: join(here, '../dashboard/app.css'), type: 'text/css; charset=utf-8' },
  { path: '/dashboard/vendor/uPlot.esm.js', file: join(uplotDist, 'uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/vendor/uPlot.min.css', file: join(uplotDist, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
]

export function dashboardRoutes(): FastifyPluginAsync {
  return async (app) => {
    for (const asset of ASSETS) {
      const body = readFileSync(asset.file)
      app.get(asset.path, { schema: { hide: true } }, async (_request, reply) =>
        reply.type(asset.type).header('cache-control', 'no-cache').send(body),
      )
    }
    // Keep the query string: a shared link to / with range and filters must open that view.
    app.get('/', { schema: { hide: true } }, async (request, reply) => {
      const at = request.url.indexOf('?')
      return reply.redirect(at === -1 ? '/dashboard' : `/dashboard${request.url.slice(at)}`)
    })
  }
}
