#!/usr/bin/env node
// Entry point of the `diffwatch` command. The sources are TypeScript run through tsx's loader,
// so there is no separate build step between a checkout and a running pipeline.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./cli.ts')
process.exitCode = await main(process.argv.slice(2))
