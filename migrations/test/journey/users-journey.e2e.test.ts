import { defineJourney } from './journey.ts';
import { usersJourney } from './users-workload.ts';

// The users extraction, end to end under load (journey.ts), with the users workload.
defineJourney(usersJourney);
