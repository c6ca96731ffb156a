/**
 * What POST /v1/sql may run, decided from ClickHouse's own parser output, never from the text.
 *
 * Guarantees (see sql-guard-engine.ts for where the inputs come from):
 * - `checkAst` accepts only one SELECT (UNION / INTERSECT / EXCEPT / WITH of SELECTs) with no
 *   SETTINGS clause anywhere (a subquery's SETTINGS readonly=0 overrides the outer readonly=1:
 *   measured on chdb 26.7), no FORMAT and no INTO OUTFILE; every table function is on a short
 *   allow-list of generators that reach neither files nor the network; no function reaches
 *   files, dictionaries or other tables (file, dictGet*, joinGet, ...); no explicitly qualified
 *   table outside the diffwatch database and no table of the deny-list (keys, bookkeeping).
 * - `checkQueryTree` is the authority on tables: every TABLE the analyzer resolved (CTEs,
 *   subqueries, JOINs, IN, scalar subqueries, aliases expanded) must be `<database>.<allowed>`,
 *   and every TABLE_FUNCTION allow-listed. Anything it cannot parse is refused, not skipped.
 * Each refusal is an API_SQL_REFUSED error whose detail names what was refused.
 */
import { apiError } from './errors.ts'

export type SqlPolicy = {
  /** The diffwatch database (a validated identifier). */
  database: string
  /** Tables of `database` a query may read. */
  tables: ReadonlySet<string>
}

/** Generators only: no file, URL, remote server, other table or process is reachable from them. */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(['numbers', 'numbers_mt', 'zeros', 'zeros_mt', 'generate_series', 'generateseries', 'values'])

/** Tables of the diffwatch database that are never readable: key hashes and bookkeeping. */
export const DENIED_TABLES: ReadonlySet<string> = new Set(['api_keys', 'api_key_usage', 'schema_migrations'])

/** Ordinary functions that read files, dictionaries or tables behind the planner's back (lower case). */
const DENIED_FUNCTIONS: ReadonlySet<string> = new Set([
  'file', 'joinget', 'joingetornull', 'catboostevaluate', 'naivebayesclassifier', 'getsetting', 'getserversetting',
  'getmergetreesetting', 'getmacro', 'getclienthttpheader', 'globalvariable', 'filesystemavailable',
  'filesystemcapacity', 'filesystemunreserved', 'currentprofiles', 'enabledprofiles', 'defaultprofiles',
  'currentroles', 'enabledroles', 'defaultroles', 'input', 'url', 's3', 'remote', 'remotesecure',
])
const DENIED_FUNCTION_PREFIXES = ['dict', 'addressto', 'demangle', 'trace', 'executable']

export type TreeNode = { kind: string; name: string; children: TreeNode[] }

/** EXPLAIN AST text (one space of indent per level) as a tree; the root is `children[0]`. */
export function parseAstText(text: string): TreeNode {
  const root: TreeNode = { kind: '(root)', name: '', children: [] }
  const stack: Array<{ depth: number; node: TreeNode }> = [{ depth: -1, node: root }]
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue
    const depth = raw.length - raw.trimStart().length
    const line = raw.trim()
    const space = line.indexOf(' ')
    const kind = space === -1 ? line : line.slice(0, space)
    const name = space === -1 ? '' : line.slice(space + 1).replace(/ \((alias [^)]*|children \d+)\)/g, '').trim()
    const node: TreeNode = { kind, name, children: [] }
    while ((stack.at(-1)?.depth ?? -1) >= depth) stack.pop()
    stack.at(-1)?.node.children.push(node)
    stack.push({ depth, node })
  }
  return root
}

const refuse = (what: string) => apiError('API_SQL_REFUSED', `${what}. POST /v1/sql runs one read-only SELECT over the diffwatch tables; see docs/api.md#sql`)

function walk(node: TreeNode, visit: (node: TreeNode, parent: TreeNode | undefined) => void, parent?: TreeNode): void {
  visit(node, parent)
  for (const child of node.children) walk(child, visit, node)
}

export function isDeniedFunction(name: string): boolean {
  const lower = name.toLowerCase()
  return DENIED_FUNCTIONS.has(lower) || DENIED_FUNCTION_PREFIXES.some((p) => lower.startsWith(p))
}

const SELECT_ROOTS = new Set(['SelectWithUnionQuery', 'SelectIntersectExceptQuery'])

/** Checks the parsed statement; throws API_SQL_REFUSED naming the first thing refused. */
export function checkAst(astText: string, policy: SqlPolicy, clientFormat?: string): void {
  const tree = parseAstText(astText)
  const top = tree.children[0]
  if (tree.children.length !== 1 || top === undefined) throw refuse('only one statement is allowed')
  // @clickhouse/client appends `FORMAT <its format>` to every query: that last child is ours.
  const last = top.children.at(-1)
  if (clientFormat !== undefined && last?.kind === 'Identifier' && last.name === clientFormat) top.children.pop()
  if (!SELECT_ROOTS.has(top.kind)) throw refuse(`only SELECT statements are allowed, not ${describeStatement(top.kind)}`)
  // A SELECT's root holds its body (ExpressionList); any further child is INTO OUTFILE, FORMAT or SETTINGS.
  if (top.kind === 'SelectWithUnionQuery' && top.children.length > 1) {
    const extra = top.children.slice(1).map((c) => c.kind)
    throw refuse(extra.includes('Literal') ? 'INTO OUTFILE is not allowed' : extra.includes('Set') ? 'SETTINGS clauses are not allowed: limits are set by the server' : 'a FORMAT clause is not allowed: use the `format` field')
  }
  walk(top, (node, parent) => {
    if (node.kind === 'Set') throw refuse('SETTINGS clauses are not allowed (limits are set by the server)')
    if (SELECT_ROOTS.has(node.kind) && node !== top && node.children.length > 1 && parent?.kind !== 'ExpressionList') {
      throw refuse('FORMAT, INTO OUTFILE and SETTINGS are not allowed in subqueries')
    }
    if (node.kind === 'Function') {
      const fn = node.name
      if (parent?.kind === 'TableExpression') {
        if (!ALLOWED_TABLE_FUNCTIONS.has(fn.toLowerCase())) {
          throw refuse(`table function ${fn}() is not allowed (allowed: ${[...ALLOWED_TABLE_FUNCTIONS].filter((f) => f === f.toLowerCase() && f !== 'generateseries').join(', ')})`)
        }
      } else if (isDeniedFunction(fn)) {
        throw refuse(`function ${fn}() is not allowed: it reads files, dictionaries, tables or server settings`)
      }
    }
    if (node.kind === 'TableIdentifier') checkTableName(node.name, policy, false)
  })
}

/** `name` is `table` or `db.table` as EXPLAIN prints it; `resolved`: a name the analyzer resolved. */
function checkTableName(name: string, policy: SqlPolicy, resolved: boolean): void {
  const dot = name.indexOf('.')
  const db = dot === -1 ? undefined : name.slice(0, dot)
  const table = dot === -1 ? name : name.slice(dot + 1)
  if (db !== undefined && db !== policy.database) {
    const lower = db.toLowerCase()
    const what = lower === 'system' ? 'system tables are' : lower === 'information_schema' ? 'information_schema is' : `tables outside the ${policy.database} database are`
    throw refuse(`${name}: ${what} not readable`)
  }
  if (DENIED_TABLES.has(table)) throw refuse(`${name} is not readable`)
  // Unqualified names may be CTEs: only the analyzer's resolved names are held to the allow-list.
  if (resolved && (db === undefined || !policy.tables.has(table))) {
    throw refuse(`table ${name} is not readable (readable: ${[...policy.tables].join(', ')})`)
  }
}

// Fields of a node line are `, `-separated `name: value` pairs after `KIND id: N`.
const TREE_TABLE = /, table_name: ([^,\s]+)(?:,|$)/
const TREE_TABLE_FUNCTION = /, table_function_name: ([^,\s]+)(?:,|$)/
const TREE_FUNCTION = /, function_name: ([^,\s]+)(?:,|$)/

/** Checks EXPLAIN QUERY TREE output: the tables and functions the analyzer actually resolved. */
export function checkQueryTree(treeText: string, policy: SqlPolicy): { tables: string[] } {
  const tables = new Set<string>()
  for (const line of treeText.split('\n')) {
    const trimmed = line.trimStart()
    if (trimmed.startsWith('TABLE id:')) {
      const name = TREE_TABLE.exec(line)?.[1]
      if (name === undefined) throw refuse('a table reference could not be verified')
      // A SELECT without FROM reads the one-row constant table system.one; nothing else of system.
      if (name === 'system.one') continue
      checkTableName(name, policy, true)
      tables.add(name)
    } else if (trimmed.startsWith('TABLE_FUNCTION id:')) {
      const fn = TREE_TABLE_FUNCTION.exec(line)?.[1]
      if (fn === undefined || !ALLOWED_TABLE_FUNCTIONS.has(fn.toLowerCase())) throw refuse(`table function ${fn ?? '(unknown)'}() is not allowed`)
    } else if (trimmed.startsWith('FUNCTION id:')) {
      const fn = TREE_FUNCTION.exec(line)?.[1]
      if (fn === undefined || isDeniedFunction(fn)) throw refuse(`function ${fn ?? '(unknown)'}() is not allowed`)
    }
  }
  return { tables: [...tables].sort() }
}

function describeStatement(kind: string): string {
  const known: Record<string, string> = {
    InsertQuery: 'INSERT', AlterQuery: 'ALTER', DropQuery: 'DROP / TRUNCATE / DETACH', CreateQuery: 'CREATE / ATTACH',
    Set: 'SET', SystemQuery: 'SYSTEM', KillQueryQuery: 'KILL', RenameQuery: 'RENAME', OptimizeQuery: 'OPTIMIZE',
    DeleteQuery: 'DELETE', UseQuery: 'USE', GrantQuery: 'GRANT / REVOKE', Explain: 'EXPLAIN',
  }
  return known[kind] ?? `${kind.replace(/Query$/, '')} statements`
}
