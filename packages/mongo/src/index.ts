export { startMongo, startStandin, MongoStartError, MONGO_CHOICES } from './start-mongo.ts';
export type { MongoHandle, MongoEngine, MongoChoice, StartMongoOptions } from './start-mongo.ts';
export { startStandinServer } from './standin/server.ts';
export type { StandinServer, StandinOptions } from './standin/server.ts';
