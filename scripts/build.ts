import { build } from './lib/build.ts'

// `npm run build`: compiles the services into dist/ (see lib/build.ts), which is what
// `npm start` and `npm run service` run with NODE_ENV=production, and the Docker image.
build()
console.log('Compiled the services into dist/')
