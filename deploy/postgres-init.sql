-- One database per service (docker-compose); `make up` does the same in infra/stack.sh.
CREATE DATABASE scheduling;
CREATE DATABASE visits;
CREATE DATABASE issues;
CREATE DATABASE analytics;
