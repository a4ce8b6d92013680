import nock from 'nock'

// nock 15 (through @mswjs/interceptors) needs Promise.withResolvers, which arrived in Node 22;
// this project runs on Node 20. It is only called once a socket connects, so defining it when
// this module loads is early enough. Import nock from here, not from 'nock'.
const promise = Promise as unknown as { withResolvers?: () => unknown }
promise.withResolvers ??= function withResolvers() {
  let resolve!: (value: unknown) => void
  let reject!: (reason: unknown) => void
  const pending = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise: pending, resolve, reject }
}

export { nock }
