export { COMMANDS, FACE_COMMANDS, OPTIONS, USAGE, createCommands, isCommand, usageError, type CommandContext, type CommandOptions, type CommandRequest, type CommandResult, type CommandServices, type Commands } from './commands.ts';
export { operatorPaths, sendToOperator, startOperatorApi, type OperatorApi } from './socket.ts';
