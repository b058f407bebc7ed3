import { http } from '@google-cloud/functions-framework';
import { startFunction } from '../start-function.ts';
import { createActivateHandler } from './handler.ts';

http('activate', startFunction('activate', createActivateHandler));
