from ide import create_app

app = create_app()
