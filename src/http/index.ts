export { createCsrf } from './csrf.ts';
export { errorHandler, renderErrorPage } from './errors.ts';
export { wantsJson } from './negotiate.ts';
export { securityHeaders } from './security.ts';
export { staticFiles } from './static.ts';
export { createViews } from './views.ts';
export { createHttpServer, type HttpServerOptions } from './server.ts';
