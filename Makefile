# Odoo SaaS Kit — the commands the README promises.
#   make demo   set everything up, start the local platform, provision a demo tenant, print it, start the API on loopback
#   make test   set everything up, start the local platform, run every test
#   make down   stop everything the local platform started
#   make proof  the reliability suites (crash, faults, concurrency, bad input, isolation) with figures
#   make hosts  the host roles on a Debian host booted by systemd-nspawn (vps_base, image_build; make test runs them too)
SHELL := /bin/bash
.DEFAULT_GOAL := help

# hack/setup.sh installs what is missing (PostgreSQL, the virtualenv) and prints the
# virtualenv's path; it is quick once everything is there.
VENV = $(eval VENV := $$(shell bash hack/setup.sh))$(VENV)
RUN = PATH="$(VENV)/bin:$$PATH" ANSIBLE_CONFIG=$(CURDIR)/ansible.cfg
INVENTORY ?= inventories/local

.PHONY: help setup build up down status demo platform test unit integration lint sanity bench proof molecule hosts

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@bash hack/setup.sh >/dev/null

build: setup
	@$(RUN) python -m tests.cluster build

up: setup
	@$(RUN) python -m tests.cluster up

down:
	@bash hack/stage.sh --stop
	@if [ -f .local/controller.pid ]; then $(RUN) python -m tests.cluster.demo_controller stop; fi
	@if [ -d .local ]; then $(RUN) python -m tests.cluster down; fi

status:
	@$(RUN) python -m tests.cluster status

platform: up
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/platform.yml

demo: up
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/demo.yml
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/status.yml
	@$(RUN) python -m tests.cluster.demo_route demo
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/controller_settings.yml -e controller_settings_path=$(CURDIR)/.local/controller.json
	@$(RUN) python -m tests.cluster.demo_controller start

unit: setup
	@$(RUN) python -m pytest tests/unit

integration: up
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/platform.yml
	@$(RUN) python -m pytest tests/integration

lint: setup
	@$(RUN) ansible-lint

sanity: setup
	@$(RUN) bash hack/sanity.sh

bench: up
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/platform.yml
	@$(RUN) python -m bench $(BENCH_ARGS)

proof: up
	@$(RUN) ansible-playbook -i $(INVENTORY) playbooks/platform.yml
	@$(RUN) python -m pytest tests/proof $(PROOF_ARGS)

molecule: up
	@$(RUN) CI=true molecule test --all

# The host scenarios (extensions/molecule_host: vps_base, image_build); hack/setup.sh installs
# debootstrap and systemd-container for them. `make test` runs them too.
HOST_SCENARIOS = env CI=true MOLECULE_GLOB='extensions/molecule_host/*/molecule.yml' molecule test --all
hosts: setup
	@$(RUN) $(HOST_SCENARIOS)

# Each stage's wall time is recorded and printed at the end (hack/stage.sh). The host scenarios boot
# their own hosts (systemd-nspawn) and run beside the other stages: the pytest stage mostly waits on
# the API server and the Jobs, so on 2 cores the two overlap well. The static checks (ansible-lint,
# sanity) touch nothing the molecule scenarios use, so they run beside those. pytest runs two test
# files at a time (pytest-xdist; each file's tests in one worker, so its module fixtures hold): the
# integration tests mostly wait on the controllers, the Jobs and the namespace terminations. The files
# marked `alone` (tests/conftest.py) run afterwards, one at a time. pytest prints its slowest tests,
# to show where its time goes.
STAGE = $(RUN) bash hack/stage.sh

test:
	@bash hack/stage.sh --reset
	@bash hack/stage.sh "setup and start the local platform" $(MAKE) --no-print-directory up
	@$(STAGE) "platform playbook" ansible-playbook -i $(INVENTORY) playbooks/platform.yml
	@$(STAGE) --beside "molecule host scenarios (vps_base, image_build)" $(HOST_SCENARIOS)
	@$(STAGE) "pytest: unit, and integration two files at a time" python -m pytest -n 2 --dist loadfile --durations=30 -m "not alone" tests/unit tests/integration
	@$(STAGE) "pytest: the integration files that run alone" python -m pytest --durations=10 -m alone tests/integration
	@$(STAGE) --beside "ansible-lint and ansible-test sanity" bash -c 'ansible-lint && bash hack/sanity.sh'
	@$(STAGE) "molecule (platform roles)" env CI=true molecule test --all
	@bash hack/stage.sh --join
	@bash hack/stage.sh --report
