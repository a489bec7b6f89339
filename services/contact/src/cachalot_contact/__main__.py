from cachalot_contact.cli import run

run()
