/** The pure checks of sql-guard.ts on EXPLAIN text as ClickHouse 26.7 prints it. */
import { describe, expect, it } from 'vitest'
import { checkAst, checkQueryTree, parseAstText } from './sql-guard.ts'

const policy = { database: 'dw', tables: new Set(['request_events']) }
const codeOf = (f: () => unknown) => {
  try {
    f()
    return 'ok'
  } catch (err) {
    return (err as { code?: string }).code
  }
}

describe('parseAstText', () => {
  it('rebuilds the tree from the indentation, dropping alias and children counts', () => {
    const tree = parseAstText('SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 2)\n   TableIdentifier request_events (alias r)\n   Function url (children 1)\n    Literal \'x\'')
    const select = tree.children[0]?.children[0]?.children[0]
    expect(select?.children.map((c) => [c.kind, c.name])).toEqual([['TableIdentifier', 'request_events'], ['Function', 'url']])
    expect(select?.children[1]?.children[0]).toEqual({ kind: 'Literal', name: "'x'", children: [] })
  })
})

describe('checkAst', () => {
  it("drops the client's own trailing FORMAT, and refuses any other extra clause", () => {
    const ast = 'SelectWithUnionQuery (children 2)\n ExpressionList (children 1)\n  SelectQuery (children 1)\n   ExpressionList (children 1)\n    Literal UInt64_1\n Identifier JSONEachRow'
    expect(codeOf(() => checkAst(ast, policy, 'JSONEachRow'))).toBe('ok')
    expect(codeOf(() => checkAst(ast, policy, 'CSV'))).toBe('API_SQL_REFUSED')
  })
})

describe('checkQueryTree', () => {
  it('lists the resolved tables and refuses a TABLE line it cannot read', () => {
    const tree = 'QUERY id: 0\n  JOIN TREE\n    TABLE id: 3, alias: __table1, table_name: dw.request_events\n    TABLE id: 4, table_name: system.one'
    expect(checkQueryTree(tree, policy).tables).toEqual(['dw.request_events'])
    expect(codeOf(() => checkQueryTree('QUERY id: 0\n  TABLE id: 3, alias: __table1', policy))).toBe('API_SQL_REFUSED')
    expect(codeOf(() => checkQueryTree('QUERY id: 0\n  TABLE id: 3, table_name: other.request_events', policy))).toBe('API_SQL_REFUSED')
    expect(codeOf(() => checkQueryTree('QUERY id: 0\n  TABLE_FUNCTION id: 3, table_function_name: url', policy))).toBe('API_SQL_REFUSED')
    expect(codeOf(() => checkQueryTree('QUERY id: 0\n  FUNCTION id: 5, function_name: dictGetString, function_type: ordinary', policy))).toBe('API_SQL_REFUSED')
  })
})
