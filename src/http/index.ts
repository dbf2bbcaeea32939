export { createCsrf } from './csrf.ts';
export { errorHandler, renderErrorPage } from './errors.ts';
export { wantsJson } from './negotiate.ts';
export { securityHeaders } from './security.ts';
export { staticFiles } from './static.ts';
export { createViews } from './views.ts';
export { createHttpServer, type HttpServerOptions } from './server.ts';
export { createOpsRouter, type OpsDeps } from './ops.ts';
export { databaseUnavailableAs503, notFoundPage, requestMetrics, routeGroup } from './middleware.ts';
